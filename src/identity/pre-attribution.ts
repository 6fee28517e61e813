// Attributes a container before its first open: on the runtime's "start" event, the same inspect
// and checks as on demand (ContainerRecords.load) fill the same records cache, so that the first
// open by a process of a new container finds its record instead of waiting for the inspect (the
// bulk of a cold open: 2–16 ms on a loaded host, against well under 1 ms for the /proc reads).
//
// The event is only a hint. It names which id to inspect next, nothing more: an open still maps
// pid → cgroup → container id itself and checks that cgroup against the record, and the record is
// the runtime's inspect answer, checked against the init's own /proc like any other. A die or
// destroy racing the inspect drops it through the records' stale-inspect guard. Hints beyond the
// queue's bound are dropped (the open attributes on demand), and a few inspects run at a time so
// that a burst of starts cannot flood the runtime.

import type { ContainerRecord, ContainerRecords } from './container-records.js';

export interface PreAttributionOptions {
  readonly records: Pick<ContainerRecords, 'get' | 'load'>;
  /** Inspects in flight at once (default 4). */
  readonly concurrency?: number;
  /** Hints waiting beyond those are dropped (default 1024). */
  readonly maxQueued?: number;
  /** A record kept for this id is of a process still running (else the caller drops it first). */
  readonly current: (record: ContainerRecord) => boolean;
  /** Drops a stale record of this id (and what depends on it). */
  readonly drop: (id: string) => void;
  /** A record this attribution loaded and the cache kept (not one a die or destroy raced). */
  readonly attributed?: (record: ContainerRecord) => void;
}

export class PreAttribution {
  private readonly queue = new Set<string>();
  private readonly concurrency: number;
  private readonly maxQueued: number;
  private running = 0;
  private closed = false;
  /** Settles when the loads in flight have (for tests and close). */
  private inFlight = new Set<Promise<unknown>>();

  constructor(private readonly opts: PreAttributionOptions) {
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.maxQueued = Math.max(1, opts.maxQueued ?? 1024);
  }

  /** A container started: attribute it soon, unless a current record of it is cached already. */
  started(id: string): void {
    if (this.closed) return;
    const record = this.opts.records.get(id);
    if (record !== undefined) {
      // Loaded on demand before the event arrived (its first open raced it): nothing to do.
      if (this.opts.current(record)) return;
      // A record of an earlier run whose die event was missed: its init is not this run's.
      this.opts.drop(id);
    }
    if (this.queue.has(id) || this.queue.size >= this.maxQueued) return;
    this.queue.add(id);
    this.pump();
  }

  /** Hints not started yet are forgotten; loads in flight settle (into the records, or dropped by close). */
  async close(): Promise<void> {
    this.closed = true;
    this.queue.clear();
    await Promise.allSettled([...this.inFlight]);
  }

  /** Resolves once nothing is queued or in flight (tests). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private pump(): void {
    while (!this.closed && this.running < this.concurrency && this.queue.size > 0) {
      const id = this.queue.values().next().value as string;
      this.queue.delete(id);
      // An open may have attributed it meanwhile; load() shares an inspect already in flight.
      if (this.opts.records.get(id) !== undefined) continue;
      this.running++;
      // A failure is only a reason (or, unexpectedly, a rejection): the open tries again on demand.
      const pending = this.opts.records
        .load(id)
        .then((loaded) => {
          const record = 'record' in loaded ? loaded.record : undefined;
          if (record && !this.closed && this.opts.records.get(id) === record) this.opts.attributed?.(record);
        })
        .catch(() => undefined)
        .finally(() => {
          this.running--;
          this.inFlight.delete(pending);
          this.pump();
        });
      this.inFlight.add(pending);
    }
  }
}
