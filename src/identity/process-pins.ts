// Callers seen before, each pinned by an open /proc/<pid>/stat. While reads of that fd succeed
// with the same start time, the pid still names this very process (a reused pid makes them fail
// with ESRCH), so a cached caller costs one pread, not open+read+close. Each pin holds one file
// descriptor: the count is bounded, the oldest go first, and every fd is closed when its pin is
// forgotten, replaced, evicted or cleared.

import { closeFd, openStat, ProcError, readStat, readStatFd } from './procfs.js';
import { errorMessage } from '../shared/error-message.js';
import type { CgroupVerdict } from './types.js';

export interface ProcessPin {
  readonly pid: number;
  /** Owned by the pins once kept; closed by them. */
  readonly statFd: number;
  readonly startTime: string;
  readonly verdict: CgroupVerdict;
  readonly tgid: number;
}

export interface ProcessPinsOptions {
  readonly procRoot: string;
  /** Most pins (open fds) kept; at least 1. */
  readonly maxPins: number;
}

export class ProcessPins {
  /** By pid; Map order is oldest first. */
  private readonly pins = new Map<number, ProcessPin>();
  /** Pids of kept pins whose cgroups name a container, so that dropping it drops them. */
  private readonly byContainer = new Map<string, Set<number>>();
  private readonly maxPins: number;

  constructor(private readonly opts: ProcessPinsOptions) {
    this.maxPins = Math.max(1, Math.floor(opts.maxPins));
  }

  get size(): number {
    return this.pins.size;
  }

  /**
   * Opens /proc/<pid>/stat for a new pin; the caller owns the fd until it is kept (or discards it).
   * Out of descriptors, the oldest pins are let go of and the open is tried once more.
   */
  open(pid: number): { readonly fd: number } | { readonly reason: string } {
    try {
      return { fd: openStat(this.opts.procRoot, pid) };
    } catch (err) {
      const code = err instanceof ProcError ? err.code : undefined;
      if (code === 'ENOENT' || code === 'ESRCH') return { reason: `process ${pid} is gone: ${errorMessage(err)}` };
      if (code !== 'EMFILE' && code !== 'ENFILE') return { reason: `cannot pin process ${pid}: ${errorMessage(err)}` };
    }
    // Out of descriptors: our pins hold most of them.
    this.evictOldest();
    try {
      return { fd: openStat(this.opts.procRoot, pid) };
    } catch (again) {
      return { reason: `cannot pin process ${pid}: ${errorMessage(again)}` };
    }
  }

  /** Closes an fd from open() that was not kept. */
  discard(fd: number): void {
    closeFd(fd);
  }

  /** The pin of `pid`, if the pid still names the pinned process; a dead or replaced one is forgotten. */
  current(pid: number): ProcessPin | undefined {
    const pin = this.pins.get(pid);
    if (pin === undefined) return undefined;
    try {
      const stat = readStatFd(pin.statFd);
      if (stat.startTime === pin.startTime && stat.state !== 'Z' && stat.state !== 'X') return pin;
    } catch {
      // ESRCH: the process we pinned is gone; the pid may already be someone else's.
    }
    this.forget(pid);
    return undefined;
  }

  /** Start time of the process now holding `pid`: through its pin when there is one, else read by number. */
  startTime(pid: number): string | undefined {
    const pin = this.pins.get(pid);
    try {
      // The pinned fd fails with ESRCH once its process is gone, even if the number is reused.
      return pin !== undefined ? readStatFd(pin.statFd).startTime : readStat(this.opts.procRoot, pid).startTime;
    } catch {
      return undefined;
    }
  }

  /** Keeps a pin (taking over its fd), replacing any pin of the same pid. */
  keep(pin: ProcessPin): void {
    this.forget(pin.pid);
    if (this.pins.size >= this.maxPins) this.evictOldest();
    this.pins.set(pin.pid, pin);
    if (pin.verdict.kind === 'container') {
      const id = pin.verdict.containerId;
      let pids = this.byContainer.get(id);
      if (pids === undefined) this.byContainer.set(id, (pids = new Set()));
      pids.add(pin.pid);
    }
  }

  forget(pid: number): void {
    const pin = this.pins.get(pid);
    if (pin === undefined) return;
    this.pins.delete(pid);
    closeFd(pin.statFd);
    if (pin.verdict.kind === 'container') {
      const pids = this.byContainer.get(pin.verdict.containerId);
      pids?.delete(pid);
      if (pids?.size === 0) this.byContainer.delete(pin.verdict.containerId);
    }
  }

  /** Forgets every pin in a container; whether there was any. */
  forgetContainer(containerId: string): boolean {
    const pids = this.byContainer.get(containerId);
    this.byContainer.delete(containerId);
    if (pids === undefined) return false;
    for (const pid of pids) this.forget(pid);
    return true;
  }

  /** Closes every fd. */
  clear(): void {
    for (const pid of [...this.pins.keys()]) this.forget(pid);
    this.byContainer.clear();
  }

  /** Drops the oldest eighth of pins (Map iterates in insertion order). */
  private evictOldest(): void {
    const oldest = [...this.pins.keys()].slice(0, Math.max(1, Math.ceil(this.pins.size / 8)));
    for (const pid of oldest) this.forget(pid);
  }
}
