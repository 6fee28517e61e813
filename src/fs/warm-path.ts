// The JavaScript half of the warm path (DESIGN.md "The warm path"): the addon answers LOOKUP and
// GETATTR of a secret in C for a caller this view has allowed (and OPEN, from leases:
// open-leases.ts), and this unit decides what it may remember and when everything remembered
// goes stale.
//
// What makes a replay identical to asking JS again:
// * only allow decisions of lookup/getattr are remembered, the ones the view answers without an
//   audit line or a metric (every denial, every open and every failure still comes to JS);
// * for the caller the memo attested (pid, uid, gid and the process start time, checked again by
//   the addon on every hit) and no longer than the memo would reuse that caller;
// * at a generation: the view bumps it on everything that can change a decision or an attr
//   (manifest change, learnt sealed facts, forgotten callers: runtime events, trust reset,
//   reload), and a decision made while the generation moved on is refused by the addon;
// * a caller's window in the addon is extended only after JS attested it again in full with the
//   same answer at the current generation (caller-refresh.ts), as its own memo's window is.
// * a new process of a container is answered by the addon only when JS vouched for a caller of
//   that container with the cgroup text it attributed it by, and the new process's text, uid and
//   gid are byte for byte the same (remember's `cgroup`; fast_path.c "Adoption"): JS would attest
//   it the same way, and its opens are audited under its own pid.

import type { CallerContext, FastPath, FastPathCaller, FileAttr } from '../native/index.js';
import type { CallerReuse } from './caller-memo.js';

export class WarmPath {
  private attached: FastPath | undefined;
  private current = 1;
  private readonly forgotten: Array<() => void> = [];

  /** @param enabled the switch (FsDeps.fastPath): off, nothing is ever handed to the addon. */
  constructor(private readonly enabled: boolean) {}

  /** The mount's cache (or none: unmounted). Enabled at the current generation. */
  attach(addon: FastPath | undefined): void {
    this.attached = this.enabled ? addon : undefined;
    if (!this.attached) return;
    this.attached.setGeneration(this.current);
    this.attached.enable(true);
    this.told();
  }

  /** The mount's cache when the warm path is on and mounted. */
  get addon(): FastPath | undefined {
    return this.attached;
  }

  /** `listener` runs after the addon forgot what it remembered (its retired leases are to take). */
  onForget(listener: () => void): void {
    this.forgotten.push(listener);
  }

  private told(): void {
    for (const listener of this.forgotten) listener();
  }

  /** Read before a decision starts; pass it to remember() once it is made. */
  get generation(): number {
    return this.current;
  }

  /** Everything remembered so far may be wrong now. */
  bump(): void {
    this.current++;
    if (!this.attached) return;
    this.attached.setGeneration(this.current);
    this.told();
  }

  /** Whether the addon answered that caller since last asked (clears it; caller-refresh.ts). */
  used(generation: number, who: FastPathCaller): boolean {
    if (!this.attached || generation !== this.current) return false;
    return this.attached.takeUsed?.(generation, who) ?? false;
  }

  /**
   * JS attested that caller again, from `generation` on, with the same answer (caller-refresh.ts):
   * the addon keeps answering it (and its leases) for `who.remainingMs` more.
   */
  extend(generation: number, who: FastPathCaller): boolean {
    if (!this.attached || generation !== this.current || who.remainingMs <= 0) return false;
    return this.attached.extend?.(generation, who) ?? false;
  }

  /**
   * Hands an allow decision of lookup/getattr to the addon. `cgroup`: the text a container caller
   * was attributed by, vouched for once the caller is remembered, so that the addon answers a new
   * process of the same container, uid and gid the same way (DESIGN.md "The warm path": adoption).
   */
  remember(
    generation: number,
    ctx: CallerContext,
    reuse: CallerReuse | undefined,
    name: string,
    attr: FileAttr,
    cgroup?: string,
  ): void {
    if (!this.attached || !reuse || generation !== this.current || reuse.remainingMs <= 0) return;
    const { pid, uid, gid } = ctx;
    const who = { pid, uid, gid, startTime: reuse.startTime, remainingMs: reuse.remainingMs };
    if (this.attached.remember(generation, who, name, attr) && cgroup !== undefined) {
      this.attached.vouch?.(generation, who, cgroup);
    }
  }
}
