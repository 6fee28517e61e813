// The containers whose init stands as a sponsor in the addon (view-state.ts sponsor): attested at
// the container's start, its lookups decided, and then kept in the addon past the reuse window so
// that any process of that container, whenever it comes, is adopted and answered in C (fast_path.c
// "Adoption"). Each stands until its deadline: no later than JS's answer for a process of that
// container could change without a new generation (the trust decision's and the leased plaintexts'
// cache expiry, at most STANDING_CAP_MS). At the deadline it is sponsored again from a fresh
// attestation; after a generation bump (anything that may change a decision drops every sponsor in
// the addon), all are, SETTLE_MS after the first bump: a burst of container deaths costs one pass
// per SETTLE_MS, not one per death. One that gets nothing any more (gone, untrusted) is dropped.
// Bounded: beyond STANDING_MAX at once, a start is decided ahead for one reuse window only.

import type { CallerContext } from '../native/index.js';
import { realTimer, SweepTimer, type Scheduler } from './sweep-timer.js';

/** Containers standing at once (half the addon's caller slots, fast_path.h PAL_FAST_SLOTS). */
export const STANDING_MAX = 256;
/** The longest a sponsor stands without a fresh attestation. */
export const STANDING_CAP_MS = 5 * 60_000;
/** How long after a generation bump the sponsors are decided again (at most one pass per this long). */
export const SETTLE_MS = 200;

export interface StandingOptions {
  readonly clock: () => number;
  /** Decide that init's sponsor again (view-state.ts sponsor); it re-admits or drops it. */
  readonly responsor: (init: CallerContext) => void;
  readonly schedule?: Scheduler;
  readonly max?: number;
  readonly settleMs?: number;
}

interface Standing {
  readonly ctx: CallerContext;
  /** Clock ms; Infinity while it is being sponsored again. */
  until: number;
}

export class StandingSponsors {
  private readonly inits = new Map<string, Standing>();
  private readonly timer: SweepTimer;
  private readonly max: number;
  private readonly settleMs: number;
  /** When every init is to be sponsored again (after bumps), or Infinity. */
  private passAt = Infinity;

  constructor(private readonly options: StandingOptions) {
    this.timer = new SweepTimer(options.schedule ?? realTimer, options.clock, () => this.sweep());
    this.max = options.max ?? STANDING_MAX;
    this.settleMs = options.settleMs ?? SETTLE_MS;
  }

  /**
   * Whether `ctx` may stand until `until` (clock ms): true for one already standing (its deadline
   * moves to `until`) or while fewer than the bound stand.
   */
  admit(ctx: CallerContext, until: number): boolean {
    const key = keyOf(ctx);
    const known = this.inits.get(key);
    if (!known && this.inits.size >= this.max) return false;
    if (known) known.until = until;
    else this.inits.set(key, { ctx, until });
    this.timer.arm(until);
    return true;
  }

  /** It stands no more (it gets nothing, or is gone). */
  drop(ctx: CallerContext): void {
    this.inits.delete(keyOf(ctx));
  }

  /** How many stand now. */
  get size(): number {
    return this.inits.size;
  }

  /** The addon forgot every sponsor (a new generation): decide them all again once bumps settle. */
  forgotten(): void {
    if (this.inits.size === 0 || this.passAt < Infinity) return; // the pass pending picks it up
    this.passAt = this.options.clock() + this.settleMs;
    this.timer.arm(this.passAt);
  }

  /** Sponsors those whose deadline (or pass) is due; runs on its timer. */
  private sweep(): void {
    const now = this.options.clock();
    const pass = now >= this.passAt;
    if (pass) this.passAt = Infinity;
    const due: CallerContext[] = [];
    for (const init of this.inits.values()) {
      if (!pass && now < init.until) continue;
      init.until = Infinity; // in flight: admit() or drop() settles it
      due.push(init.ctx);
    }
    for (const ctx of due) this.options.responsor(ctx);
    const next = Math.min(this.passAt, ...[...this.inits.values()].map((i) => i.until));
    if (next < Infinity) this.timer.arm(next);
  }
}

function keyOf(ctx: CallerContext): string {
  return `${ctx.pid}:${ctx.uid}:${ctx.gid}`;
}
