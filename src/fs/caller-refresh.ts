// A caller in use is attested again in the background shortly before its reuse window ends
// (caller-memo.ts), so a steady reader never waits on JavaScript for its re-attestation: when the
// fresh attestation gives the same answer, its window starts again, in the memo and in the addon
// (which then keeps answering it in C across the window's end).
// What keeps this exactly as safe as letting the window lapse:
// * the attestation is the memo's own (the full attestCaller path: pid → /proc cgroup → container
//   record → trust), at least once per window: a new window is measured from when that
//   attestation started;
// * a window starts again only when the fresh attestation names the same process (start time)
//   with the same identity, trust and no failure, deep-equal to the one it replaces; any
//   difference, a failure or a gone process forgets the caller at once, and a memo forget() or a
//   new entry meanwhile discards the result;
// * the addon extends only that very caller (pid, uid, gid, start time), at the generation read
//   before the attestation began and only while its pin still names it (fast_path.c).
// The work is bounded: only callers used since their window began (a request JS answered from the
// memo, or one the addon answered: its per-caller flag) are refreshed, once per window, by at most
// `concurrency` attestations at a time, and never more callers than the memo holds.

import { isDeepStrictEqual } from 'node:util';

import type { FastPathCaller } from '../native/index.js';
import { realTimer, SweepTimer, type Scheduler } from './sweep-timer.js';
import type { CallerRef } from '../identity/types.js';
import type { Caller } from '../policy/index.js';

/** One remembered caller's current window (the memo's entry). */
export interface RememberedCaller {
  readonly key: string;
  readonly ctx: CallerRef;
  /** /proc/<pid>/stat field 22 of the process it was attested for. */
  readonly startTime: string;
  readonly caller: Caller;
  readonly until: number;
  /** JS answered a request from it since its window began (or since its refresh started). */
  used: boolean;
}

/** The addon's side (warm-path.ts): its per-caller "used" flag and the extension of a window. */
export interface RefreshAddon {
  readonly generation: number;
  /** Whether the addon answered that caller since last asked (clears it). */
  used(generation: number, who: FastPathCaller): boolean;
  /** The caller was attested again with the same answer from `generation` on: extend it. */
  extend(generation: number, who: FastPathCaller): boolean;
}

export type { Scheduler } from './sweep-timer.js';

export interface RefreshOptions {
  readonly addon?: RefreshAddon;
  readonly schedule?: Scheduler;
  /** How long before a window ends its refresh starts (default a quarter of the window). */
  readonly leadMs?: number;
  /** Attestations in flight at most (default 4). */
  readonly concurrency?: number;
}

/** What the refresher needs of the memo. */
export interface RefreshedMemo {
  readonly attest: (ctx: CallerRef) => Promise<Caller>;
  /** Start time of the pinned process holding `pid` (CallerMemoOptions.startTime); undefined when not pinned. */
  readonly startTime: (pid: number) => string | undefined;
  readonly clock: () => number;
  readonly reuseMs: number;
  /** The entry remembered under `key` now (undefined: forgotten or replaced). */
  current(key: string): RememberedCaller | undefined;
  /** Starts a new window for `old`'s caller at `since`, remembering `fresh` in its place (and watching it). */
  renew(old: RememberedCaller, fresh: Caller, since: number): RememberedCaller;
  /** Forgets `old` now (its next request is attested afresh). */
  drop(old: RememberedCaller): void;
}

/** Same process, same identity, same trust, no failure: the decision inputs did not change. */
export function sameAnswer(before: RememberedCaller, fresh: Caller): boolean {
  if (fresh.failure !== undefined || before.caller.failure !== undefined) return false;
  if (fresh.identity.startTime !== undefined && fresh.identity.startTime !== before.startTime) return false;
  const { identity, trust } = before.caller;
  return isDeepStrictEqual({ identity, trust }, { identity: fresh.identity, trust: fresh.trust });
}

export class CallerRefresh {
  /** Windows not yet refreshed nor given up, by key. */
  private readonly watched = new Map<string, RememberedCaller>();
  private inFlight = 0;
  private readonly timer: SweepTimer;
  private readonly leadMs: number;
  private readonly concurrency: number;

  constructor(
    private readonly memo: RefreshedMemo,
    private readonly options: RefreshOptions = {},
  ) {
    this.leadMs = options.leadMs ?? memo.reuseMs / 4;
    this.concurrency = options.concurrency ?? 4;
    this.timer = new SweepTimer(options.schedule ?? realTimer, memo.clock, () => this.sweep());
  }

  /** A new window began (a fresh attestation or a renewal): refresh it before it ends if it is used. */
  watch(entry: RememberedCaller): void {
    this.watched.set(entry.key, entry);
    this.arm(entry.until - this.leadMs);
  }

  /** Everything remembered was forgotten: nothing is refreshed (results in flight are discarded by the memo). */
  clear(): void {
    this.watched.clear();
    this.timer.clear();
  }

  /** Attestations in flight now (tests). */
  get pending(): number {
    return this.inFlight;
  }

  /** Starts the refreshes that are due; runs on its timer (tests call it after moving the clock). */
  sweep(): void {
    const now = this.memo.clock();
    let next = Infinity;
    for (const [key, entry] of this.watched) {
      if (this.memo.current(key) !== entry || now >= entry.until) {
        this.watched.delete(key); // replaced, forgotten or lapsed
        continue;
      }
      const due = entry.until - this.leadMs;
      if (now < due) {
        next = Math.min(next, due);
        continue;
      }
      if (this.inFlight >= this.concurrency) continue; // picked up when one finishes
      this.watched.delete(key);
      // Both flags are read (the addon's is cleared) so that use from now on counts for the next window.
      const inAddon = this.usedInAddon(entry);
      if (!entry.used && !inAddon) continue; // idle: it lapses as it would have
      entry.used = false;
      this.start(entry);
    }
    if (next < Infinity) this.arm(next);
  }

  private usedInAddon(entry: RememberedCaller): boolean {
    const addon = this.options.addon;
    return addon ? addon.used(addon.generation, this.who(entry, 0)) : false;
  }

  private who(entry: RememberedCaller, remainingMs: number): FastPathCaller {
    const { pid, uid, gid } = entry.ctx;
    return { pid, uid, gid, startTime: entry.startTime, remainingMs };
  }

  private arm(at: number): void {
    this.timer.arm(at);
  }

  private start(entry: RememberedCaller): void {
    this.inFlight++;
    void this.refresh(entry).finally(() => {
      this.inFlight--;
      if (this.watched.size > 0) this.sweep();
    });
  }

  private async refresh(entry: RememberedCaller): Promise<void> {
    const { memo } = this;
    const generation = this.options.addon?.generation;
    const since = memo.clock();
    // A process already gone, its pid handed on, or no longer pinned by the resolver (its pin
    // evicted) is not attested: forgotten at once (its next request is attested afresh).
    if (memo.startTime(entry.ctx.pid) !== entry.startTime) return memo.drop(entry);
    let fresh: Caller;
    try {
      fresh = await memo.attest(entry.ctx);
    } catch {
      return memo.drop(entry);
    }
    if (memo.current(entry.key) !== entry) return; // forgotten or replaced meanwhile: not ours to renew
    if (!sameAnswer(entry, fresh)) return memo.drop(entry);
    const next = memo.renew(entry, fresh, since);
    const remainingMs = next.until - memo.clock();
    if (generation !== undefined && remainingMs > 0)
      this.options.addon?.extend(generation, this.who(next, remainingMs));
  }
}
