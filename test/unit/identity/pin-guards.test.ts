// How cached callers are pinned: which guard a resolver gets (pidfd only where the addon's pidfds
// work, against the real /proc), and the pidfd guard's failure modes, on a fake /proc and a fake
// of pal's PidfdOps. Each case checks no descriptor is left open.

import test from 'ava';
import { constants } from 'node:os';
import { choosePinGuard, pidfdPinGuard } from '../../../src/identity/pin-guards.js';
import { ProcessPins, type ProcessPin } from '../../../src/identity/process-pins.js';
import type { PidfdOps } from '../../../src/identity/types.js';
import { fakeStatProc } from '../../helpers/fake-proc.js';

const { EINVAL, EMFILE, EPERM, ESRCH } = constants.errno;

function errnoError(errno: number, what: string): Error {
  return Object.assign(new Error(`${what}: errno ${errno}`), { code: 'ERR_PAL_PIDFD', errno });
}

/** Fake pidfds: numbered from 1000, each pinning a pid until that pid is "reaped". */
class FakePidfds implements PidfdOps {
  readonly openFds = new Map<number, number>();
  private readonly reaped = new Set<number>();
  private next = 1000;
  /** The next open()s throw with these errnos, one each. */
  openErrors: number[] = [];
  /** alive() throws with this errno while set. */
  aliveError: number | undefined;
  /** Run inside the next alive() call, before it answers (a process exiting meanwhile). */
  beforeAlive: (() => void) | undefined;
  aliveCalls = 0;

  open(tid: number): number {
    const errno = this.openErrors.shift();
    if (errno !== undefined) throw errnoError(errno, `pidfd_open(${tid})`);
    const fd = this.next++;
    this.openFds.set(fd, tid);
    return fd;
  }
  alive(fd: number): boolean {
    this.aliveCalls++;
    const hook = this.beforeAlive;
    this.beforeAlive = undefined;
    hook?.();
    if (this.aliveError !== undefined) throw errnoError(this.aliveError, 'pidfd_send_signal');
    const pid = this.openFds.get(fd);
    if (pid === undefined) throw errnoError(constants.errno.EBADF, 'pidfd_send_signal');
    return !this.reaped.has(fd);
  }
  /** What tgid() answers: a number (0: cannot tell) or an errno to throw. */
  tgidAnswer: { tgid: number } | { errno: number } = { tgid: 0 };
  tgid(fd: number): number {
    if (!this.openFds.has(fd)) throw errnoError(constants.errno.EBADF, 'PIDFD_GET_INFO');
    if ('errno' in this.tgidAnswer) throw errnoError(this.tgidAnswer.errno, 'PIDFD_GET_INFO');
    return this.tgidAnswer.tgid;
  }
  close(fd: number): void {
    this.openFds.delete(fd);
  }
  /** The process holding `pid` is reaped: every pidfd open on it reads as gone. */
  reap(pid: number): void {
    for (const [fd, p] of this.openFds) if (p === pid) this.reaped.add(fd);
  }
}

function world(maxPins = 8) {
  const proc = fakeStatProc();
  const pidfds = new FakePidfds();
  const pins = new ProcessPins({ procRoot: proc.root, maxPins, guard: pidfdPinGuard(proc.root, pidfds) });
  return { proc, pidfds, pins, cleanup: () => proc.cleanup() };
}

function keep(pins: ProcessPins, pid: number): ProcessPin {
  const opened = pins.open(pid);
  if (!('hold' in opened)) throw new Error(opened.reason);
  const pin = {
    pid,
    hold: opened.hold,
    startTime: opened.stat.startTime,
    verdict: { kind: 'host' } as const,
    tgid: pid,
  };
  pins.keep(pin);
  return pin;
}

test('choosePinGuard: stat fds without pidfds or off the real /proc; pidfds where they answer for pald', (t) => {
  const proc = fakeStatProc();
  t.teardown(() => proc.cleanup());
  t.is(choosePinGuard('/proc', undefined).guard.kind, 'stat');
  const working = new FakePidfds();
  t.is(choosePinGuard(proc.root, working).guard.kind, 'stat', 'a fake /proc numbers its own processes');
  t.regex(choosePinGuard(proc.root, working).why, /not the host's \/proc/);
  t.is(working.openFds.size, 0);
  const chosen = choosePinGuard('/proc', working);
  t.is(chosen.guard.kind, 'pidfd');
  t.is(working.openFds.size, 0, 'the probe pidfd is closed');

  const noPidfd = new FakePidfds();
  noPidfd.openErrors = [constants.errno.ENOSYS];
  t.is(choosePinGuard('/proc', noPidfd).guard.kind, 'stat');
  const refused = new FakePidfds();
  refused.aliveError = EPERM;
  const answer = choosePinGuard('/proc', refused);
  t.is(answer.guard.kind, 'stat');
  t.regex(answer.why, /refused/);
  t.is(refused.openFds.size, 0, 'closed after a refused check');
  const dead = new FakePidfds();
  dead.beforeAlive = () => dead.reap(process.pid);
  t.is(choosePinGuard('/proc', dead).guard.kind, 'stat');
  t.is(dead.openFds.size, 0);
});

test('pidfd pins: cached while alive, forgotten and closed once reaped; no stat fd is held', (t) => {
  const w = world();
  t.teardown(w.cleanup);
  w.proc.process(10, '100');
  w.proc.process(11, '110');
  const ten = keep(w.pins, 10);
  keep(w.pins, 11);
  t.is(ten.hold.guard.kind, 'pidfd');
  t.is(ten.startTime, '100', 'the stat read while pinned');
  t.is(w.proc.openFds(), 0, 'the stat was read by number and closed');
  t.is(w.pidfds.openFds.size, 2);
  t.is(w.pins.current(10), ten);
  t.is(w.pins.pinnedStartTime(10), '100');
  w.pidfds.reap(10);
  w.proc.process(10, '999'); // the number now names another process
  t.is(w.pins.current(10), undefined);
  t.is(w.pidfds.openFds.size, 1);
  t.is(w.pins.pinnedStartTime(10), undefined, 'no pin now, and never a read by number');
  w.pidfds.aliveError = EPERM; // cannot tell is not alive
  t.is(w.pins.current(11), undefined);
  t.is(w.pidfds.openFds.size, 0);
});

test('pidfd pin: a pid with no process is gone; a process reaped while its stat is read is not pinned', (t) => {
  const w = world();
  t.teardown(w.cleanup);
  w.pidfds.openErrors = [ESRCH];
  const missing = w.pins.open(42);
  t.regex('reason' in missing ? missing.reason : 'pinned', /^process 42 is gone: /);
  // The pidfd opens, but /proc/43 is gone by the stat read.
  const noStat = w.pins.open(43);
  t.regex('reason' in noStat ? noStat.reason : 'pinned', /^process 43 is gone: /);
  t.is(w.pidfds.openFds.size, 0, 'its pidfd is closed');
  // The stat read names some process, but the pinned one is reaped meanwhile: that stat may be a successor's.
  w.proc.process(44, '440');
  w.pidfds.beforeAlive = () => w.pidfds.reap(44);
  const raced = w.pins.open(44);
  t.regex('reason' in raced ? raced.reason : 'pinned', /^process 44 is gone: .*exited while being pinned/);
  t.is(w.pidfds.openFds.size, 0);
  t.is(w.proc.openFds(), 0);
  t.is(w.pins.size, 0);
});

test('pidfd guard: no pidfd for this thread (EINVAL) or a refused check means a stat pin for it', (t) => {
  const w = world();
  t.teardown(w.cleanup);
  w.proc.process(20, '200');
  w.proc.process(21, '210');
  w.pidfds.openErrors = [EINVAL]; // a thread that is not its group's leader, before Linux 6.9
  const thread = keep(w.pins, 20);
  t.is(thread.hold.guard.kind, 'stat');
  t.is(w.proc.openFds(), 1, 'pinned by its stat fd');
  w.pidfds.aliveError = EPERM;
  const refused = keep(w.pins, 21);
  w.pidfds.aliveError = undefined;
  t.is(refused.hold.guard.kind, 'stat');
  t.is(w.pidfds.openFds.size, 0, 'the refused pidfd is closed');
  t.is(w.proc.openFds(), 2);
  // A stat pin still compares start times on each check.
  t.is(w.pins.current(20), thread);
  w.proc.process(20, '201');
  t.is(w.pins.current(20), undefined);
  w.pins.clear();
  t.is(w.proc.openFds(), 0);
});

test('pidfd pins: out of descriptors, the oldest go and the pin is retried once', (t) => {
  const w = world();
  t.teardown(w.cleanup);
  for (const pid of [1, 2, 3]) {
    w.proc.process(pid, String(pid));
    keep(w.pins, pid);
  }
  w.pidfds.openErrors = [EMFILE];
  w.proc.process(4, '4');
  const four = keep(w.pins, 4);
  t.is(four.hold.guard.kind, 'pidfd');
  t.is(w.pins.current(1), undefined, 'the oldest was let go of');
  t.is(w.pidfds.openFds.size, w.pins.size);
  w.pidfds.openErrors = [EMFILE, EMFILE];
  w.proc.process(5, '5');
  t.regex(((r) => ('reason' in r ? r.reason : 'pinned'))(w.pins.open(5)), /^cannot pin process 5: /);
  t.is(w.pidfds.openFds.size, w.pins.size);
});

test('pidfd pins: bounded by maxPins, each one pidfd; replace, forget, forgetContainer and clear close them', (t) => {
  const w = world(4);
  t.teardown(w.cleanup);
  for (let pid = 100; pid < 120; pid++) {
    w.proc.process(pid, String(pid));
    keep(w.pins, pid);
    t.true(w.pins.size <= 4 && w.pidfds.openFds.size === w.pins.size, `${w.pins.size} pins, ${w.pidfds.openFds.size}`);
  }
  const again = keep(w.pins, 119);
  t.is(w.pins.current(119), again);
  t.is(w.pidfds.openFds.size, w.pins.size, 'the replaced pin closed its pidfd');
  w.pins.forget(119);
  t.is(w.pidfds.openFds.size, w.pins.size);
  const opened = w.pins.open(118);
  if (!('hold' in opened)) return t.fail(opened.reason);
  w.pins.discard(opened.hold);
  t.is(w.pidfds.openFds.size, w.pins.size, 'a discarded pin closes its pidfd');
  w.pins.clear();
  t.is(w.pidfds.openFds.size, 0);
  t.is(w.proc.openFds(), 0);
});

test('pidfd pin: the thread group comes from the pidfd where the kernel tells it, else it is left to /proc', (t) => {
  const w = world();
  t.teardown(w.cleanup);
  w.proc.process(30, '300');
  w.pidfds.tgidAnswer = { tgid: 29 };
  const told = w.pins.open(30);
  if (!('hold' in told)) return t.fail(told.reason);
  t.is(told.tgid, 29);
  w.pins.discard(told.hold);
  for (const answer of [{ tgid: 0 }, { errno: EINVAL }, { errno: EPERM }]) {
    w.pidfds.tgidAnswer = answer;
    const untold = w.pins.open(30);
    if (!('hold' in untold)) return t.fail(untold.reason);
    t.is(untold.tgid, undefined, JSON.stringify(answer));
    w.pins.discard(untold.hold);
  }
  w.pidfds.tgidAnswer = { errno: ESRCH }; // reaped between the stat read and the ask
  const gone = w.pins.open(30);
  t.regex('reason' in gone ? gone.reason : 'pinned', /^process 30 is gone: /);
  t.is(w.pidfds.openFds.size, 0);
});
