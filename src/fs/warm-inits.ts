// The containers whose start was sponsored a moment ago (view-state.ts sponsor) and are kept warm:
// their inits stay attested for a while after the start so that the container's first process,
// whenever it comes within that time, is adopted by the addon. Bounded: beyond SPONSOR_WARM_MAX at
// once (a burst of starts), a start is still decided ahead but only for one reuse window, so the
// background attestations stay a few per window whatever the burst. Kept here too so that a
// forget (any container's death forgets every caller) decides them again, not drops them.

import type { CallerContext } from '../native/index.js';

/** Inits kept warm at once. */
export const SPONSOR_WARM_MAX = 16;

export interface WarmInit {
  readonly ctx: CallerContext;
  readonly remainingMs: number;
}

export class WarmInits {
  private readonly inits = new Map<string, { readonly ctx: CallerContext; readonly until: number }>();

  constructor(
    private readonly clock: () => number,
    private readonly max = SPONSOR_WARM_MAX,
  ) {}

  /**
   * Whether `ctx` may be kept warm for `ms`: true for one already kept (its deadline stays), or
   * while fewer than the bound are.
   */
  admit(ctx: CallerContext, ms: number): boolean {
    this.prune();
    const key = keyOf(ctx);
    if (this.inits.has(key)) return true;
    if (this.inits.size >= this.max || ms <= 0) return false;
    this.inits.set(key, { ctx, until: this.clock() + ms });
    return true;
  }

  /** Nothing is kept for it any more (it was refused, or is gone). */
  drop(ctx: CallerContext): void {
    this.inits.delete(keyOf(ctx));
  }

  /** The inits still warm and the time each has left. */
  live(): WarmInit[] {
    this.prune();
    const now = this.clock();
    return [...this.inits.values()].map(({ ctx, until }) => ({ ctx, remainingMs: until - now }));
  }

  private prune(): void {
    const now = this.clock();
    for (const [key, init] of this.inits) if (now >= init.until) this.inits.delete(key);
  }
}

function keyOf(ctx: CallerContext): string {
  return `${ctx.pid}:${ctx.uid}:${ctx.gid}`;
}
