// Opens on the warm path (DESIGN.md "The warm path"): after JS allowed an open of a secret for a
// caller it may reuse, the addon gets a lease to answer that caller's next opens of the same
// secret in C, at the same generation, within the same reuse window (the caller checks are the
// ones the lookups replay, fast_path.c). What keeps a replayed open identical to asking JS:
// * the decision: the very one JS made for that caller and secret version; anything that could
//   change it bumps the generation, which retires every lease (warm-path.ts);
// * the handle limits: a lease carries handle numbers this ledger booked in advance against the
//   caller's owner, exactly as opens count; before JS refuses anything for a limit it retires
//   every lease and takes the unused numbers back (reclaim), so booked-but-unused handles never
//   make a limit bite earlier than without the warm path;
// * the plaintext: the lease reads the ledger's one pinned copy of that version, as JS handles do;
// * the audit line and the handle bookkeeping: the addon tells JS of each open and close after
//   the fact, in batches (a few ms later, and always before the next request JS answers), and JS
//   writes the same line (same caller, secret, decision, reason; the time and latency of the open
//   itself) and counts the handle as if it had opened it (the last close still drops the
//   kernel's pages). Before it refuses for a limit, JS first takes what is still queued, so a
//   close the addon answered always counts.

import { Errno, FuseError, type CallerContext, type FastPathEvent, type SecureBuffer } from '../native/index.js';
import type { Caller } from '../policy/index.js';
import type { CallerReuse } from './caller-memo.js';
import type { HandleLedger } from './handle-ledger.js';
import type { OpenHandles } from './open-handles.js';
import type { WarmPath } from './warm-path.js';

/** Handle numbers booked per lease (at most 16, fast_path.h PAL_FAST_LEASE_SLOTS). */
export const LEASE_SLOTS = 8;

/** What JS decided for the open a lease replays: the audit line's content. */
export interface OpenDecision {
  readonly caller: Caller;
  readonly name: string;
  readonly ino: number;
  readonly reason: string;
  readonly reasonClass: string;
}

export interface LeaseOffer extends OpenDecision {
  readonly generation: number;
  readonly ctx: CallerContext;
  readonly reuse: CallerReuse | undefined;
  readonly owner: string;
  /** The ledger's pin key of the secret version. */
  readonly key: string;
  readonly plaintext: SecureBuffer;
  /** Most opens the lease may answer (handle numbers booked): LEASE_SLOTS when absent. */
  readonly slots?: number;
}

interface Lease extends OpenDecision {
  retired: boolean;
  /** Opens answered in all (known once retired) and the events JS has had. */
  total: number | undefined;
  opened: number;
  released: number;
}

export interface OpenLeasesDeps {
  readonly warm: WarmPath;
  readonly ledger: HandleLedger;
  readonly handles: OpenHandles;
  /**
   * Writes the allow line of a replayed open, as openSecret does, with its time and latency; `pid`
   * is the opener's (a process the addon adopted from the lease's caller is not that caller).
   * `lineWritten`: the addon wrote the line (from auditTail's text): only the counters are left.
   */
  readonly auditOpen: (d: OpenDecision, timeMs: number, latencyUs: number, pid: number, lineWritten: boolean) => void;
  /**
   * The constant part of a replayed open's line (FastPath.lease's auditTail), for the addon to
   * write the lines itself; undefined: JS writes them.
   */
  readonly auditTail?: (d: OpenDecision) => string | undefined;
}

export class OpenLeases {
  private readonly leases = new Map<number, Lease>();
  private nextId = 1;
  /** Handle numbers closes in the addon gave back to the ledger, in all. */
  private releasedByEvents = 0;
  private expiry: NodeJS.Timeout | undefined;
  /** Leases the addon has not retired yet (standing sponsors keep some for minutes: no scan per tick). */
  private unretired = 0;

  constructor(private readonly deps: OpenLeasesDeps) {
    deps.warm.onForget(() => this.collect());
  }

  /** After an allowed open by JS: lets the addon replay it (when the caller may be reused). */
  offer(o: LeaseOffer): void {
    const { warm, ledger, handles } = this.deps;
    const addon = warm.addon;
    if (!addon || !o.reuse || o.reuse.remainingMs <= 0 || o.generation !== warm.generation) return;
    const slots = Math.min(o.slots ?? LEASE_SLOTS, LEASE_SLOTS, ledger.headroom(o.owner));
    const fhs: number[] = [];
    try {
      while (fhs.length < slots) {
        const fh = handles.allocate();
        ledger.reserveSecret(o.owner, fh, o.key, o.plaintext);
        fhs.push(fh);
      }
    } catch {
      // a limit: book what fits (the next open asks JS, which decides as always)
    }
    const content = fhs.length > 0 ? ledger.shareOf(o.key) : undefined;
    const id = this.nextId++;
    const { pid, uid, gid } = o.ctx;
    const who = { pid, uid, gid, startTime: o.reuse.startTime, remainingMs: o.reuse.remainingMs };
    const tail = content ? this.deps.auditTail?.(o) : undefined;
    if (!content || !addon.lease(o.generation, who, o.ino, id, content, fhs, tail)) {
      for (const fh of fhs) ledger.release(fh);
      return;
    }
    const { caller, name, ino, reason, reasonClass } = o;
    this.leases.set(id, {
      caller,
      name,
      ino,
      reason,
      reasonClass,
      retired: false,
      total: undefined,
      opened: 0,
      released: 0,
    });
    this.unretired++;
    this.armExpiry(o.reuse.remainingMs);
  }

  /** The addon's news (FuseHandlers.fastEvent). */
  event(e: FastPathEvent): void {
    if (e.kind === 'retired') {
      this.collect();
      return;
    }
    const lease = this.leases.get(e.lease);
    if (e.kind === 'opened') {
      if (!lease) return; // cannot happen: a lease is kept until each of its opens was heard of
      lease.opened++;
      this.deps.auditOpen(lease, e.timeMs, e.latencyUs, e.ctx.pid, e.audited);
      if (e.closed) {
        // Opened and closed since the last batch (one event for both): counted as both at once.
        this.deps.handles.openedAndClosed(lease.ino);
        this.closed(e.fh, e.returned);
        lease.released++;
      } else {
        this.deps.handles.add(e.fh, { ino: lease.ino, name: lease.name });
        this.deps.ledger.markOpen(e.fh, true);
      }
    } else {
      this.deps.handles.release(e.fh, true);
      this.closed(e.fh, e.returned);
      if (lease) lease.released++;
    }
    if (lease) this.settle(e.lease, lease);
  }

  /** A handle the addon answered was closed: a number not back in its live lease is JS's again. */
  private closed(fh: number, returned: boolean): void {
    if (returned) return this.deps.ledger.markOpen(fh, false); // booked again, unopened
    this.deps.ledger.release(fh); // its lease is retired: the number is JS's again
    this.releasedByEvents++;
  }

  /**
   * Before refusing for a limit: retires every lease and gives the unused booked handles back.
   * True when anything was given back (the limit is worth checking again).
   */
  reclaim(): boolean {
    const addon = this.deps.warm.addon;
    if (!addon || this.leases.size === 0) return false;
    const released = this.releasedByEvents;
    addon.drain(); // closes the addon answered and JS has not heard of yet
    addon.retireLeases();
    return this.collect() > 0 || this.releasedByEvents !== released;
  }

  /** Runs `admit` (a ledger check); a limit refusal is retried once after reclaim(). */
  admit<T>(admit: () => T): T {
    try {
      return admit();
    } catch (err) {
      const limit = err instanceof FuseError && (err.errno === Errno.ENFILE || err.errno === Errno.ENOMEM);
      if (!limit || !this.reclaim()) throw err;
      return admit();
    }
  }

  /** Takes the leases the addon retired; returns how many booked handles went back. */
  private collect(): number {
    const addon = this.deps.warm.addon;
    if (!addon) return 0;
    let freed = 0;
    for (const r of addon.takeRetired()) {
      for (const fh of r.free) this.deps.ledger.release(fh);
      freed += r.free.length;
      const lease = this.leases.get(r.lease);
      if (!lease) continue;
      if (!lease.retired) this.unretired--;
      lease.retired = true;
      lease.total = r.opened;
      this.settle(r.lease, lease);
    }
    return freed;
  }

  private settle(id: number, lease: Lease): void {
    if (lease.retired && lease.opened === lease.total && lease.released === lease.total) this.leases.delete(id);
  }

  /** Callers past their reuse window are forgotten in time, so their leases stop pinning plaintext. */
  private armExpiry(afterMs: number): void {
    if (this.expiry) return;
    this.expiry = setTimeout(
      () => {
        this.expiry = undefined;
        this.deps.warm.addon?.expire();
        this.collect();
        if (this.unretired > 0) this.armExpiry(afterMs);
      },
      Math.ceil(afterMs) + 1,
    );
    this.expiry.unref();
  }
}
