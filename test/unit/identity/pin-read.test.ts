// The pidfd guard's one-call pin (PidfdOps.pinRead, native pidfdPinRead): each step's errno keeps the
// meaning it has on the step-by-step path (gone, out of descriptors, no pidfd here), on a fake /proc and
// a fake of pal's PidfdOps. Each case checks no descriptor is left open.

import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { pidfdPinGuard } from '../../../src/identity/pin-guards.js';
import { ProcessPins } from '../../../src/identity/process-pins.js';
import type { PidfdOps, PidfdPinRead } from '../../../src/identity/types.js';
import { fakeStatProc } from '../../helpers/fake-proc.js';

const { EFBIG, EINVAL, EMFILE, ENFILE, ENOENT, EPERM, ESRCH } = constants.errno;

type Step = 'open' | 'stat' | 'cgroup' | 'tgid' | 'alive';

/** pidfdPinRead's failure: its pidfd already closed, the step and errno told. */
function stepError(step: Step, errno: number): Error {
  return Object.assign(new Error(`pin-read ${step}: errno ${errno}`), { code: 'ERR_PAL_PIDFD', errno, step });
}

/** Fake pidfds whose pinRead reads the fake /proc; the step-by-step calls are counted, not expected. */
class FakeOneCallPidfds implements PidfdOps {
  readonly openFds = new Map<number, number>();
  private next = 2000;
  /** The next pinRead()s fail at these steps, one each. */
  failures: Array<{ step: Step; errno: number }> = [];
  tgidAnswer = 0;
  stepwiseCalls = 0;

  constructor(private readonly root: string) {}

  pinRead(tid: number): PidfdPinRead {
    const failure = this.failures.shift();
    if (failure !== undefined) throw stepError(failure.step, failure.errno);
    let stat: string;
    try {
      stat = readFileSync(join(this.root, String(tid), 'stat'), 'latin1');
    } catch {
      throw stepError('stat', ENOENT);
    }
    const fd = this.next++;
    this.openFds.set(fd, tid);
    return { fd, stat, cgroup: `0::/pinned/${tid}\n`, tgid: this.tgidAnswer };
  }
  open(tid: number): number {
    this.stepwiseCalls++;
    const fd = this.next++;
    this.openFds.set(fd, tid);
    return fd;
  }
  alive(fd: number): boolean {
    return this.openFds.has(fd);
  }
  close(fd: number): void {
    this.openFds.delete(fd);
  }
}

function world(maxPins = 8) {
  const proc = fakeStatProc();
  const pidfds = new FakeOneCallPidfds(proc.root);
  const pins = new ProcessPins({ procRoot: proc.root, maxPins, guard: pidfdPinGuard(proc.root, pidfds) });
  return { proc, pidfds, pins, cleanup: () => proc.cleanup() };
}

const reasonOf = (r: ReturnType<ProcessPins['open']>): string => ('reason' in r ? r.reason : 'pinned');

test('one-call pin: stat, cgroups and thread group from the one call; no step-by-step call, no stat fd', (t) => {
  const w = world();
  t.teardown(w.cleanup);
  w.proc.process(10, '100');
  w.pidfds.tgidAnswer = 9;
  const pinned = w.pins.open(10);
  if (!('hold' in pinned)) return t.fail(pinned.reason);
  t.is(pinned.hold.guard.kind, 'pidfd');
  t.is(pinned.stat.startTime, '100');
  t.is(pinned.cgroup, '0::/pinned/10\n');
  t.is(pinned.tgid, 9);
  t.is(w.pidfds.stepwiseCalls, 0);
  t.is(w.proc.openFds(), 0);
  w.pins.discard(pinned.hold);
  w.pidfds.tgidAnswer = 0; // the kernel cannot tell: left to /proc/<pid>/status
  const untold = w.pins.open(10);
  if (!('hold' in untold)) return t.fail(untold.reason);
  t.is(untold.tgid, undefined);
  w.pins.discard(untold.hold);
  t.is(w.pidfds.openFds.size, 0);
});

test('one-call pin: gone at any step (ESRCH, or no stat) is gone; a read error is not a pin', (t) => {
  const w = world();
  t.teardown(w.cleanup);
  w.proc.process(20, '200');
  for (const step of ['open', 'stat', 'tgid', 'alive'] as const) {
    w.pidfds.failures = [{ step, errno: ESRCH }];
    t.regex(reasonOf(w.pins.open(20)), /^process 20 is gone: /, step);
  }
  t.regex(reasonOf(w.pins.open(21)), /^process 21 is gone: /, 'no /proc/21');
  w.pidfds.failures = [{ step: 'cgroup', errno: EFBIG }];
  t.regex(reasonOf(w.pins.open(20)), /^cannot pin process 20: /);
  w.proc.process(22, '220');
  writeUnparsableStat(w.proc.root, 22);
  t.regex(reasonOf(w.pins.open(22)), /^cannot pin process 22: .*not parsable/);
  t.is(w.pidfds.openFds.size, 0, 'the unparsable pin closed its pidfd');
  t.is(w.pidfds.stepwiseCalls, 0);
});

test('one-call pin: out of descriptors at open or a read, the oldest go and the pin is retried once', (t) => {
  const w = world();
  t.teardown(w.cleanup);
  for (const pid of [1, 2, 3, 4]) w.proc.process(pid, String(pid));
  for (const pid of [1, 2, 3]) keep(w.pins, pid);
  let refill = 100;
  for (const failure of [
    { step: 'open', errno: EMFILE },
    { step: 'stat', errno: EMFILE },
    { step: 'cgroup', errno: ENFILE },
  ] as const) {
    w.pidfds.failures = [failure];
    const before = w.pins.size;
    const four = w.pins.open(4);
    if (!('hold' in four)) return t.fail(`${failure.step}: ${four.reason}`);
    t.is(w.pins.size, before - 1, `${failure.step}: the oldest was let go of`);
    w.pins.discard(four.hold);
    w.proc.process(++refill, String(refill));
    keep(w.pins, refill);
  }
  w.pidfds.failures = [
    { step: 'open', errno: EMFILE },
    { step: 'stat', errno: EMFILE },
  ];
  t.regex(reasonOf(w.pins.open(4)), /^cannot pin process 4: /);
  t.is(w.pidfds.openFds.size, w.pins.size);
});

test('one-call pin: no pidfd for this thread (EINVAL) or a refused signal check (EPERM) is a stat pin', (t) => {
  const w = world();
  t.teardown(w.cleanup);
  w.proc.process(30, '300');
  for (const failure of [
    { step: 'open', errno: EINVAL },
    { step: 'alive', errno: EPERM },
  ] as const) {
    w.pidfds.failures = [failure];
    const pinned = w.pins.open(30);
    if (!('hold' in pinned)) return t.fail(pinned.reason);
    t.is(pinned.hold.guard.kind, 'stat', failure.step);
    t.is(pinned.cgroup, undefined, 'the cgroups are read by the resolver then');
    t.is(w.proc.openFds(), 1);
    w.pins.discard(pinned.hold);
  }
  t.is(w.proc.openFds(), 0);
  t.is(w.pidfds.openFds.size, 0);
});

function keep(pins: ProcessPins, pid: number): void {
  const opened = pins.open(pid);
  if (!('hold' in opened)) throw new Error(opened.reason);
  pins.keep({ pid, hold: opened.hold, startTime: opened.stat.startTime, verdict: { kind: 'host' }, tgid: pid });
}

function writeUnparsableStat(root: string, pid: number): void {
  writeFileSync(join(root, String(pid), 'stat'), `${pid} no parentheses here\n`);
}
