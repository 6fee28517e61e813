// Process pins' own contract: a pin answers only while its process lives with the same start
// time, each kept pin holds exactly one fd, the count is bounded, and forgetting closes the fd.

import test from 'ava';
import { ProcessPins, type ProcessPin } from '../../../src/identity/process-pins.js';
import type { CgroupVerdict } from '../../../src/identity/types.js';
import { fakeStatProc } from '../../helpers/fake-proc.js';

const A = 'a'.repeat(60) + '0001';
const B = 'b'.repeat(60) + '0002';

const host: CgroupVerdict = { kind: 'host' };
const inContainer = (containerId: string): CgroupVerdict => ({
  kind: 'container',
  containerId,
  runtime: 'docker',
  paths: [`/docker/${containerId}`],
});

/** Opens and keeps a pin for a process written with `start`. */
function pin(pins: ProcessPins, pid: number, start: string, verdict: CgroupVerdict = host): ProcessPin {
  const opened = pins.open(pid);
  if (!('hold' in opened)) throw new Error(opened.reason);
  const kept = { pid, hold: opened.hold, startTime: start, verdict, tgid: pid };
  pins.keep(kept);
  return kept;
}

test('a pin answers while its process lives; a reused pid or a zombie is forgotten and its fd closed', (t) => {
  const proc = fakeStatProc();
  t.teardown(() => proc.cleanup());
  const pins = new ProcessPins({ procRoot: proc.root, maxPins: 8 });
  proc.process(10, '100');
  proc.process(11, '110');
  const kept = pin(pins, 10, '100');
  pin(pins, 11, '110');
  t.is(pins.current(10), kept);
  t.is(proc.openFds(), 2);
  proc.process(10, '999'); // the number now names another process
  t.is(pins.current(10), undefined);
  t.is(pins.size, 1);
  t.is(proc.openFds(), 1);
  proc.process(11, '110', { state: 'Z' });
  t.is(pins.current(11), undefined);
  t.is(proc.openFds(), 0);
});

test('open: a missing process is gone; the caller owns the fd until keep or discard', (t) => {
  const proc = fakeStatProc();
  t.teardown(() => proc.cleanup());
  const pins = new ProcessPins({ procRoot: proc.root, maxPins: 8 });
  const missing = pins.open(42);
  t.regex('reason' in missing ? missing.reason : 'opened', /^process 42 is gone: /);
  proc.process(42, '420');
  const opened = pins.open(42);
  if (!('hold' in opened)) return t.fail(opened.reason);
  t.is(proc.openFds(), 1);
  t.is(pins.size, 0, 'not kept until keep()');
  pins.discard(opened.hold);
  t.is(proc.openFds(), 0);
});

test('bounded: never more pins (fds) than maxPins, the oldest go first; clear closes all', (t) => {
  const proc = fakeStatProc();
  t.teardown(() => proc.cleanup());
  const pins = new ProcessPins({ procRoot: proc.root, maxPins: 4 });
  for (let pid = 100; pid < 120; pid++) {
    proc.process(pid, String(pid));
    pin(pins, pid, String(pid));
    t.true(pins.size <= 4 && proc.openFds() === pins.size, `${pins.size} pins, ${proc.openFds()} fds`);
  }
  t.truthy(pins.current(119), 'the newest is kept');
  t.is(pins.current(100), undefined, 'the oldest went first');
  pins.clear();
  t.is(pins.size, 0);
  t.is(proc.openFds(), 0);
});

test('keeping a pid again replaces its pin and closes the old fd', (t) => {
  const proc = fakeStatProc();
  t.teardown(() => proc.cleanup());
  const pins = new ProcessPins({ procRoot: proc.root, maxPins: 8 });
  proc.process(7, '70');
  pin(pins, 7, '70');
  const again = pin(pins, 7, '70');
  t.is(pins.size, 1);
  t.is(proc.openFds(), 1);
  t.is(pins.current(7), again);
});

test('forgetContainer drops the pins of that container only, and says whether there were any', (t) => {
  const proc = fakeStatProc();
  t.teardown(() => proc.cleanup());
  const pins = new ProcessPins({ procRoot: proc.root, maxPins: 8 });
  for (const pid of [1, 2, 3, 4]) proc.process(pid, String(pid));
  pin(pins, 1, '1', inContainer(A));
  pin(pins, 2, '2', inContainer(A));
  pin(pins, 3, '3', inContainer(B));
  pin(pins, 4, '4', host);
  t.true(pins.forgetContainer(A));
  t.false(pins.forgetContainer(A));
  t.is(pins.current(1), undefined);
  t.is(pins.current(2), undefined);
  t.truthy(pins.current(3));
  t.truthy(pins.current(4));
  t.is(proc.openFds(), 2);
  // A pin forgotten one by one leaves no empty index entry behind.
  pins.forget(3);
  t.false(pins.forgetContainer(B));
});

test('pinnedStartTime: through the pin once kept, never read by number (a reused number forgets the pin)', (t) => {
  const proc = fakeStatProc();
  t.teardown(() => proc.cleanup());
  const pins = new ProcessPins({ procRoot: proc.root, maxPins: 8 });
  t.is(pins.pinnedStartTime(5), undefined);
  proc.process(5, '50');
  t.is(pins.pinnedStartTime(5), undefined, 'a live process not pinned yet: no read by number');
  pin(pins, 5, '50');
  t.is(pins.pinnedStartTime(5), '50');
  // The pinned process exits and the number is reused: the pin no longer holds it.
  proc.process(5, '51');
  t.is(pins.pinnedStartTime(5), undefined, 'neither the pinned stat nor the new process by number');
  t.is(pins.size, 0, 'the pin that stopped holding is forgotten');
  t.is(proc.openFds(), 0);
});
