// The bench's CPU split (test/bench/cpu-split.ts): parsed from /proc/stat's aggregate line, and
// described only when both readings make sense.
import test from 'ava';
import { describeCpuSplit, parseCpuTimes, readCpuTimes } from '../../bench/cpu-split.js';

const stat = (user: number, idle: number, steal: number): string =>
  `cpu  ${user} 0 10 ${idle} 5 1 2 ${steal} 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 1 2\n`;

test('parses the aggregate line, not a per-CPU one: busy counts user, nice, system, irq and softirq', (t) => {
  t.deepEqual(parseCpuTimes(stat(100, 50, 7)), { busy: 113, idle: 50, iowait: 5, steal: 7 });
});

test('a text without an aggregate cpu line, or with too few or non-numeric columns, gives nothing', (t) => {
  t.is(parseCpuTimes('cpu0 1 2 3 4 5 6 7 8\n'), undefined);
  t.is(parseCpuTimes('cpu  1 2 3 4 5 6 7\n'), undefined);
  t.is(parseCpuTimes('cpu  1 2 3 x 5 6 7 8\n'), undefined);
  t.is(parseCpuTimes('cpu  1 2 3 -4 5 6 7 8\n'), undefined);
  t.is(parseCpuTimes(''), undefined);
});

test('the split between two readings is shares of the time between them', (t) => {
  const before = parseCpuTimes(stat(100, 100, 0));
  const after = parseCpuTimes(stat(160, 120, 20)); // +60 busy, +20 idle, +20 stolen
  t.is(describeCpuSplit(before, after), 'busy 60%, idle 20%, iowait 0%, stolen 20%');
});

test('no split without both readings, without time between them, or when a counter went back', (t) => {
  const a = parseCpuTimes(stat(100, 100, 0));
  t.is(describeCpuSplit(undefined, a), undefined);
  t.is(describeCpuSplit(a, undefined), undefined);
  t.is(describeCpuSplit(a, a), undefined);
  t.is(describeCpuSplit(parseCpuTimes(stat(200, 100, 0)), parseCpuTimes(stat(100, 300, 0))), undefined);
});

test('this machine has a /proc/stat the parser reads', async (t) => {
  const now = await readCpuTimes();
  t.truthy(now);
  t.true(now!.busy + now!.idle > 0);
  t.is(await readCpuTimes('/nonexistent/stat'), undefined);
});
