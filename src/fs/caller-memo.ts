// One open() is a lookup then an open from the same blocked thread, and readers loop: a caller
// attested a moment ago is reused for a short window instead of being attributed and attested
// again. The key is the process, not only its number: pid, the kernel's uid/gid (a setuid process
// is a new caller) and the process start time, read again on every request (a pread of the
// resolver's pinned /proc/<pid>/stat), so a pid reused inside the window is a new caller.
// Failures are never reused (a process being moved into its container settles quickly).
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
  /** Start time of the process now holding `pid` (/proc/<pid>/stat field 22), undefined if unreadable. */
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
    const startTime = this.options.startTime(ctx.pid);
    // Without a start time the process cannot be told apart from a successor: never reuse.
    const key = startTime === undefined ? undefined : `${ctx.pid}:${ctx.uid}:${ctx.gid}:${startTime}`;
    if (key !== undefined) {
      const hit = this.entries.get(key);
      if (hit && this.options.clock() < hit.until) {
        hit.used = true;
        return hit.caller;
      }
      this.entries.delete(key);
    }
    const caller = await this.options.attest(ctx);
    // The resolver read the start time itself: it must be the process this key names.
    const sameProcess = caller.identity.startTime === undefined || caller.identity.startTime === startTime;
    if (key !== undefined && startTime !== undefined && !caller.failure && sameProcess) {
      const { pid, uid, gid } = ctx;
      const until = this.options.clock() + this.reuseMs;
      this.remember({ key, ctx: { pid, uid, gid }, startTime, caller, until, used: false });
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
