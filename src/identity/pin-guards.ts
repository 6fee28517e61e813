// How a cached caller is pinned (process-pins.ts), so that its pid is never taken for a later
// process that got the same number. Two kinds, one interface:
// * pidfd: a pidfd for the calling thread, from the addon (native/src/pidfd.c). pidfd_send_signal
//   with signal 0 answers "alive" until that very thread is reaped, and ESRCH afterwards, whatever
//   holds its number by then: one syscall per cached request, no read and no parse.
// * stat: an open /proc/<pid>/stat, re-read (pread) and its start time compared on every request.
//   The procfs fallback where no pidfd can be had (no addon, a kernel without pidfds, a fake /proc
//   in the unit tests).
// Both take the process's stat once when pinning, read after the pin is held, so the pin names
// the process whose start time the resolver attests. Where the addon has pidfdPinRead, a pidfd pin
// takes the pidfd, the stat, the cgroups and the tgid in one native call (a new caller's first
// sight is cold: each JS-to-kernel hop costs 50-600 µs then); the parsing stays here in JS.

import { realpathSync } from 'node:fs';
import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { errorMessage } from '../shared/error-message.js';
import { closeFd, openStat, parseStat, ProcError, readStat, readStatFd, type ProcStat } from './procfs.js';
import type { PidfdOps, PidfdPinRead } from './types.js';

export type PinKind = 'pidfd' | 'stat';

export interface PinnedProcess {
  readonly hold: PinHold;
  readonly stat: ProcStat;
  /** From the pidfd (PIDFD_GET_INFO): saves reading /proc/<pid>/status. */
  readonly tgid?: number;
  /** /proc/<pid>/cgroup as read while pinned, before the pin's alive check (the one-call pin only). */
  readonly cgroup?: string;
}

/** One pin's descriptor and the guard that answers for it (a pidfd guard may hand out stat pins). */
export interface PinHold {
  readonly fd: number;
  readonly guard: PinGuard;
}

export interface PinGuard {
  readonly kind: PinKind;
  /**
   * Pins the process holding `pid` now; its stat as read while the pin held it, and its thread group
   * id when the pin itself tells it. Throws ProcError: code ENOENT or ESRCH when there is no such
   * process (any more), EMFILE/ENFILE out of descriptors.
   */
  pin(pid: number): PinnedProcess;
  /** Whether the pinned process is still there (and, read through a stat fd, still has `startTime`). */
  holds(fd: number, startTime: string): boolean;
  close(fd: number): void;
}

const { EMFILE, ENFILE, ESRCH } = constants.errno;

/** Pins by an open /proc/<pid>/stat (today's procfs pin): each check is a pread and a parse. */
export function statPinGuard(procRoot: string): PinGuard {
  const guard: PinGuard = {
    kind: 'stat',
    pin(pid) {
      const fd = openStat(procRoot, pid);
      try {
        return { hold: { fd, guard }, stat: readStatFd(fd) };
      } catch (err) {
        closeFd(fd);
        throw err;
      }
    },
    holds(fd, startTime) {
      try {
        const stat = readStatFd(fd);
        return stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X';
      } catch {
        // ESRCH: the process we pinned is gone; the pid may already be someone else's.
        return false;
      }
    },
    close: closeFd,
  };
  return guard;
}

/**
 * Pins by a pidfd for the thread. Where the kernel gives this thread none (EINVAL: a thread other
 * than the leader before Linux 6.9; ENOSYS; a refused signal check) that pin is a stat pin instead.
 */
export function pidfdPinGuard(procRoot: string, pidfds: PidfdOps, fallback = statPinGuard(procRoot)): PinGuard {
  const guard: PinGuard = {
    kind: 'pidfd',
    pin(pid) {
      if (pidfds.pinRead !== undefined) return pinInOneCall(pid, pidfds, guard, fallback);
      let fd: number;
      try {
        fd = pidfds.open(pid);
      } catch (err) {
        const errno = errnoOf(err);
        if (errno === ESRCH) throw new ProcError(`no process ${pid}: ${errorMessage(err)}`, 'ESRCH');
        if (errno === EMFILE || errno === ENFILE) throw new ProcError(errorMessage(err), 'EMFILE');
        return fallback.pin(pid);
      }
      try {
        // Read by number after the pidfd is open: if its thread is still alive after the read, it
        // held the number throughout, so this is its stat (a reuse in between fails the check).
        const stat = readStat(procRoot, pid);
        const tgid = tgidOf(pidfds, fd);
        if (!pidfds.alive(fd)) throw new ProcError(`process ${pid} exited while being pinned`, 'ESRCH');
        return { hold: { fd, guard }, stat, ...(tgid !== undefined ? { tgid } : {}) };
      } catch (err) {
        pidfds.close(fd);
        if (err instanceof ProcError) throw err;
        // The signal check refused (EPERM, a pid namespace out of reach): never "alive" unasked.
        return fallback.pin(pid);
      }
    },
    holds(fd) {
      try {
        return pidfds.alive(fd);
      } catch {
        // Cannot tell is not alive: the pin is forgotten and the caller resolved afresh.
        return false;
      }
    },
    close: (fd) => pidfds.close(fd),
  };
  return guard;
}

/**
 * The guard a resolver pins with: pidfds when the addon gives them and they work here (a pidfd for
 * pald itself answers the signal check), against the real /proc only (a pidfd names a pid of
 * pald's namespace; another procfs may number its processes differently). Else stat fds.
 */
export function choosePinGuard(
  procRoot: string,
  pidfds: PidfdOps | undefined,
): { readonly guard: PinGuard; readonly why: string } {
  const stat = statPinGuard(procRoot);
  if (pidfds === undefined) return { guard: stat, why: 'no pidfd support was given' };
  let real: string;
  try {
    real = realpathSync(procRoot);
  } catch (err) {
    return { guard: stat, why: `cannot resolve ${procRoot}: ${errorMessage(err)}` };
  }
  if (real !== '/proc') return { guard: stat, why: `${procRoot} is not the host's /proc` };
  let fd: number;
  try {
    fd = pidfds.open(process.pid);
  } catch (err) {
    return { guard: stat, why: `no pidfd here: ${errorMessage(err)}` };
  }
  try {
    if (!pidfds.alive(fd)) return { guard: stat, why: 'a pidfd for pald itself reads as gone' };
  } catch (err) {
    return { guard: stat, why: `pidfd signal check refused: ${errorMessage(err)}` };
  } finally {
    pidfds.close(fd);
  }
  return { guard: pidfdPinGuard(procRoot, pidfds, stat), why: 'the kernel gives pidfds' };
}

/**
 * The pidfd guard's pin in one native call (PidfdOps.pinRead), with the outcomes of its step-by-step
 * path: gone (ESRCH at any step, ENOENT reading), out of descriptors (EMFILE/ENFILE, which the pins
 * answer by evicting and trying again), a read error, or a stat pin where no pidfd works here.
 */
function pinInOneCall(pid: number, pidfds: PidfdOps, guard: PinGuard, fallback: PinGuard): PinnedProcess {
  let read: PidfdPinRead;
  try {
    read = pidfds.pinRead!(pid);
  } catch (err) {
    const errno = errnoOf(err);
    const step = stepOf(err);
    if (errno === ESRCH) throw new ProcError(`no process ${pid} (${step}): ${errorMessage(err)}`, 'ESRCH');
    if (step === 'stat' || step === 'cgroup') throw new ProcError(errorMessage(err), errnoName(errno));
    if (errno === EMFILE || errno === ENFILE) throw new ProcError(errorMessage(err), 'EMFILE');
    // No pidfd for this thread here (EINVAL, ENOSYS) or a refused signal check (EPERM): never "alive" unasked.
    return fallback.pin(pid);
  }
  const stat = parseStat(read.stat);
  if (stat === undefined) {
    pidfds.close(read.fd);
    throw new ProcError(`/proc/${pid}/stat is not parsable`, 'EINVAL');
  }
  const tgid = Number.isSafeInteger(read.tgid) && read.tgid > 0 ? read.tgid : undefined;
  return { hold: { fd: read.fd, guard }, stat, cgroup: read.cgroup, ...(tgid !== undefined ? { tgid } : {}) };
}

function stepOf(err: unknown): string | undefined {
  const step = typeof err === 'object' && err !== null && 'step' in err ? err.step : undefined;
  return typeof step === 'string' ? step : undefined;
}

/** ENOENT for 2, as node:fs names the code of a failed read (process-pins.ts reads the code). */
function errnoName(errno: number | undefined): string | undefined {
  if (errno === undefined || errno <= 0) return undefined;
  try {
    return getSystemErrorName(-errno);
  } catch {
    return undefined;
  }
}

/** The pidfd's thread group id, or undefined where the addon or kernel cannot tell (status is read then). */
function tgidOf(pidfds: PidfdOps, fd: number): number | undefined {
  if (pidfds.tgid === undefined) return undefined;
  let tgid: number;
  try {
    tgid = pidfds.tgid(fd);
  } catch (err) {
    if (errnoOf(err) === ESRCH) throw new ProcError(`process exited while being pinned: ${errorMessage(err)}`, 'ESRCH');
    return undefined;
  }
  return Number.isSafeInteger(tgid) && tgid > 0 ? tgid : undefined;
}

function errnoOf(err: unknown): number | undefined {
  const errno = typeof err === 'object' && err !== null && 'errno' in err ? err.errno : undefined;
  return typeof errno === 'number' ? Math.abs(errno) : undefined;
}
