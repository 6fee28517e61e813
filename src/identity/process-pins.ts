// Callers seen before, each pinned (pin-guards.ts: a pidfd for the thread, or an open
// /proc/<pid>/stat where none can be had). While the pin holds, the pid still names this very
// process (a reused pid does not revive a reaped thread's pidfd, and makes a stat fd fail with
// ESRCH), so a cached caller costs one syscall, not open+read+close. Each pin holds one file
// descriptor: the count is bounded, the oldest go first, and every fd is closed when its pin is
// forgotten, replaced, evicted or cleared.

import { ProcError } from './procfs.js';
import { statPinGuard, type PinGuard, type PinHold, type PinnedProcess } from './pin-guards.js';
import { errorMessage } from '../shared/error-message.js';
import type { CgroupVerdict } from './types.js';

export interface ProcessPin {
  readonly pid: number;
  /** Owned by the pins once kept; closed by them. */
  readonly hold: PinHold;
  /** Read while the pin held the process. */
  readonly startTime: string;
  readonly verdict: CgroupVerdict;
  readonly tgid: number;
  /** The /proc/<pid>/cgroup text the verdict was made from (kept for container verdicts only). */
  readonly cgroupText?: string;
}

export interface ProcessPinsOptions {
  readonly procRoot: string;
  /** Most pins (open fds) kept; at least 1. */
  readonly maxPins: number;
  /** How processes are pinned; stat fds under procRoot when not given. */
  readonly guard?: PinGuard;
}

/** A process pinned by open(), with its stat as read while pinned; the caller owns `hold` until kept. */
export type OpenedPin = PinnedProcess;

export class ProcessPins {
  /** By pid; Map order is oldest first. */
  private readonly pins = new Map<number, ProcessPin>();
  /** Pids of kept pins whose cgroups name a container, so that dropping it drops them. */
  private readonly byContainer = new Map<string, Set<number>>();
  private readonly maxPins: number;
  private readonly guard: PinGuard;

  constructor(private readonly opts: ProcessPinsOptions) {
    this.maxPins = Math.max(1, Math.floor(opts.maxPins));
    this.guard = opts.guard ?? statPinGuard(opts.procRoot);
  }

  /** How new pins are taken. */
  get kind(): PinGuard['kind'] {
    return this.guard.kind;
  }

  get size(): number {
    return this.pins.size;
  }

  /**
   * Pins the process holding `pid` now; the caller owns the pin until it is kept (or discards it).
   * Out of descriptors, the oldest pins are let go of and the pin is tried once more.
   */
  open(pid: number): OpenedPin | { readonly reason: string } {
    try {
      return this.guard.pin(pid);
    } catch (err) {
      const code = err instanceof ProcError ? err.code : undefined;
      if (code === 'ENOENT' || code === 'ESRCH') return { reason: `process ${pid} is gone: ${errorMessage(err)}` };
      if (code !== 'EMFILE' && code !== 'ENFILE') return { reason: `cannot pin process ${pid}: ${errorMessage(err)}` };
    }
    // Out of descriptors: our pins hold most of them.
    this.evictOldest();
    try {
      return this.guard.pin(pid);
    } catch (again) {
      return { reason: `cannot pin process ${pid}: ${errorMessage(again)}` };
    }
  }

  /** Closes a pin from open() that was not kept. */
  discard(hold: PinHold): void {
    hold.guard.close(hold.fd);
  }

  /** Whether a pin (kept or not) still holds the process that had `startTime` when pinned. */
  holds(hold: PinHold, startTime: string): boolean {
    return hold.guard.holds(hold.fd, startTime);
  }

  /** The pin of `pid`, if the pid still names the pinned process; a dead or replaced one is forgotten. */
  current(pid: number): ProcessPin | undefined {
    const pin = this.pins.get(pid);
    if (pin === undefined) return undefined;
    if (pin.hold.guard.holds(pin.hold.fd, pin.startTime)) return pin;
    // The process we pinned is gone; the pid may already be someone else's.
    this.forget(pid);
    return undefined;
  }

  /**
   * Start time of the pinned process holding `pid`, while its pin holds it (one pin check, no read
   * by number); undefined when `pid` is not pinned or its pin no longer holds (then forgotten).
   * Never reads /proc/<pid>/stat by number: a process not pinned yet has no start time here.
   */
  pinnedStartTime(pid: number): string | undefined {
    return this.current(pid)?.startTime;
  }

  /** The cgroup text of the pinned process holding `pid` with `startTime`, if a container's. */
  containerCgroup(pid: number, startTime: string): string | undefined {
    const pin = this.current(pid);
    return pin?.startTime === startTime && pin.verdict.kind === 'container' ? pin.cgroupText : undefined;
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
    pin.hold.guard.close(pin.hold.fd);
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
