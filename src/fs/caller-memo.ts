// One open() is a lookup then an open from the same blocked thread, and readers loop: a caller
// attested a moment ago is reused for a short window instead of being attributed and attested
// again. The key is the process, not only its number: pid, the kernel's uid/gid (a setuid process
// is a new caller) and the process start time, so a pid reused inside the window is a new caller.
// Finding a remembered caller needs a start time only for a process the resolver has pinned (it
// keeps the pin of every caller it answered): one pin check, never a read of /proc/<pid>/stat by
// number. A process not pinned has no remembered caller to find, so its first request goes
// straight to attestation, and its entry is keyed by the start time the resolver read itself
// while it held the pin (the identity's). Failures are never reused (a process being moved into
// its container settles quickly), nor is a caller without a start time (an unknown one).
// A caller in use is attested again in the background before its window ends, and its window
// starts again when the answer is the same (caller-refresh.ts): a steady reader does not wait.

import type { CallerRef } from '../identity/types.js';
import type { Caller } from '../policy/index.js';
import { CallerRefresh, type RefreshOptions, type RememberedCaller } from './caller-refresh.js';

export const CALLER_REUSE_MS = 50;
const MAX_REUSED_CALLERS = 10_000;

export interface CallerMemoOptions {
  /** Attribute and attest a caller (policy's attestCaller over the daemon's sources). */
  readonly attest: (ctx: CallerRef) => Promise<Caller>;
  /**
   * Start time (/proc/<pid>/stat field 22) of the process holding `pid` while the resolver keeps it
   * pinned (IdentityResolver.pinnedStartTime); undefined when not pinned. Never a read by number.
   */
  readonly startTime: (pid: number) => string | undefined;
  /** Monotonic milliseconds. */
  readonly clock: () => number;
  readonly reuseMs?: number;
  readonly maxEntries?: number;
  /** Re-attest callers in use before their window ends (caller-refresh.ts); absent: never. */
  readonly refresh?: RefreshOptions;
}

/** How a remembered caller may be reused: the process it is, and for how much longer. */
export interface CallerReuse {
  /** /proc/<pid>/stat field 22 of the process the caller was attested for. */
  readonly startTime: string;
  readonly remainingMs: number;
}

export class CallerMemo {
  private readonly entries = new Map<string, RememberedCaller>();
  private readonly reusable = new WeakMap<Caller, { readonly key: string; readonly startTime: string }>();
  private readonly reuseMs: number;
  private readonly maxEntries: number;
  /** The background re-attestation of callers in use (absent: windows lapse). */
  readonly refresher: CallerRefresh | undefined;

  constructor(private readonly options: CallerMemoOptions) {
    this.reuseMs = options.reuseMs ?? CALLER_REUSE_MS;
    this.maxEntries = options.maxEntries ?? MAX_REUSED_CALLERS;
    if (!options.refresh) return;
    const { attest, startTime, clock } = options;
    this.refresher = new CallerRefresh(
      {
        attest,
        startTime,
        clock,
        reuseMs: this.reuseMs,
        current: (key) => this.entries.get(key),
        renew: (old, fresh, since) => {
          const next = { ...old, caller: fresh, until: since + this.reuseMs };
          this.remember(next); // a request JS answered from `old` meanwhile counts for the new window
          return next;
        },
        drop: (old) => {
          if (this.entries.get(old.key) === old) this.entries.delete(old.key);
        },
      },
      options.refresh,
    );
  }

  async evaluate(ctx: CallerRef): Promise<Caller> {
    // Only a pinned process can have a remembered caller (its pin is the resolver's, kept since it
    // was attested); a pid reused since then fails the pin check and is attested afresh.
    const pinned = this.options.startTime(ctx.pid);
    if (pinned !== undefined) {
      const key = keyOf(ctx, pinned);
      const hit = this.entries.get(key);
      if (hit && this.options.clock() < hit.until) {
        hit.used = true;
        return hit.caller;
      }
      this.entries.delete(key);
    }
    const caller = await this.options.attest(ctx);
    // The start time the resolver read while it held the pin names the process it attested.
    // Without one the process cannot be told apart from a successor: never reused.
    const startTime = caller.identity.startTime;
    // A pinned process whose pid changed hands during the attestation: not the one that asked.
    const sameProcess = pinned === undefined || pinned === startTime;
    if (startTime !== undefined && !caller.failure && sameProcess) {
      const { pid, uid, gid } = ctx;
      const until = this.options.clock() + this.reuseMs;
      this.remember({ key: keyOf(ctx, startTime), ctx: { pid, uid, gid }, startTime, caller, until, used: false });
    }
    return caller;
  }

  private remember(entry: RememberedCaller): void {
    if (this.entries.size >= this.maxEntries && !this.entries.has(entry.key)) this.entries.clear();
    this.entries.set(entry.key, entry);
    this.reusable.set(entry.caller, { key: entry.key, startTime: entry.startTime });
    this.refresher?.watch(entry);
  }

  /** For a caller evaluate() returned: whether it is remembered, as which process, for how long. */
  reuseOf(caller: Caller): CallerReuse | undefined {
    const r = this.reusable.get(caller);
    const entry = r && this.entries.get(r.key);
    // Evicted or replaced: evaluate() would attest this process afresh, so it is not reusable.
    if (!r || entry?.caller !== caller) return undefined;
    return { startTime: r.startTime, remainingMs: entry.until - this.options.clock() };
  }

  /** Forget every remembered caller (a container died or changed, trust was reset). */
  forget(): void {
    this.entries.clear();
    this.refresher?.clear();
  }
}

function keyOf(ctx: CallerRef, startTime: string): string {
  return `${ctx.pid}:${ctx.uid}:${ctx.gid}:${startTime}`;
}
