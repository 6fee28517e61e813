// The bench's per-thread CPU line (test/bench/pald-knobs.ts describeThreadCpu): shares of a core,
// and with the run's ops/s the CPU per op, the main thread apart from helpers of the same name.
import test from 'ava';
import { describeThreadCpu, type ThreadUse } from '../../bench/pald-knobs.js';

const threads: ThreadUse[] = [
  { tid: '100', comm: 'node', cpu: 0.1, switchesPerSec: 5000 },
  { tid: '101', comm: 'node', cpu: 0.02, switchesPerSec: 300 },
  { tid: '102', comm: 'node', cpu: 0.004, switchesPerSec: 10 },
  { tid: '110', comm: 'pal-fuse', cpu: 0.45, switchesPerSec: 40000 },
  { tid: '111', comm: 'pal-fuse', cpu: 0.43, switchesPerSec: 39000 },
];

test('without ops/s: the total and each thread above 1% of a core, nothing per op', (t) => {
  const line = describeThreadCpu('pald, 8 client(s)', 100, threads);
  t.is(
    line,
    '    cpu pald, 8 client(s): total 100% · node/100 10% 5000 cs/s · node/101 2% 300 cs/s · ' +
      'pal-fuse/110 45% 40000 cs/s · pal-fuse/111 43% 39000 cs/s',
  );
});

test('with ops/s: the CPU per op in all and by name, largest first, the main thread apart', (t) => {
  const line = describeThreadCpu('pald, 8 client(s)', 100, threads, 40_000);
  // 1.004 cores over 40k ops/s = 25.1 µs; pal-fuse 0.88 → 22.0; node main 0.1 → 2.5; the other node threads 0.024 → 0.6
  t.true(line.endsWith(' · per op 25.1 µs CPU (pal-fuse 22.0, node (main) 2.5, node 0.6)'), line);
});

test('a name whose CPU per op rounds to 0.0 µs is left out', (t) => {
  const idleMain: ThreadUse = { tid: '100', comm: 'cfloor', cpu: 0.0001, switchesPerSec: 1 };
  const worker: ThreadUse = { tid: '101', comm: 'cfloor', cpu: 0.25, switchesPerSec: 20000 };
  t.true(describeThreadCpu('floor', 100, [idleMain, worker], 10_000).endsWith(' · per op 25.0 µs CPU (cfloor 25.0)'));
});

test('no per-op figures for a run without ops', (t) => {
  t.false(describeThreadCpu('x', 100, threads, 0).includes('per op'));
});
