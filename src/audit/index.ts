// Audit log: one JSON object per access decision (SPEC §5), appended without blocking the
// request path, with a ring of recent lines for `pal audit`. Repeated refusals are aggregated
// (aggregate.ts), write errors are retried and counted (writer.ts), and counters per decision
// stay exact whatever was folded or lost.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { RepeatAggregator } from './aggregate.js';
import { sanitizeEvent, type AuditEvent } from './event.js';
import { AuditLineFormatter } from './line.js';
import { LineRing, linesOf } from './ring.js';
import { FileSink, ResilientWriter, StderrSink, type LineSink, type WriterHealth } from './writer.js';

export { decisionsIn, type AuditEvent } from './event.js';
export { isoTime } from './time.js';
export type { LineSink, WriterHealth } from './writer.js';

/** Longest a line waits in memory before it is written; bounds what a crash can lose. */
const FLUSH_INTERVAL_MS = 10;
/** Aggregation window of repeated refusals: one line per key per window. */
export const REPEAT_INTERVAL_MS = 10_000;

export interface AuditLogOptions {
  /** Lines kept in memory for recent() (default 1000). */
  readonly ringSize?: number;
  /** Aggregation window (default REPEAT_INTERVAL_MS). */
  readonly repeatIntervalMs?: number;
  /** Bound on aggregation windows tracked at once (default 10,000). */
  readonly maxRepeatKeys?: number;
  /** Bound on lines queued while the file cannot be written (default 8 MiB). */
  readonly maxQueuedBytes?: number;
  /** First retry after a write error (default 100 ms, doubling to maxRetryMs). */
  readonly firstRetryMs?: number;
  /** Longest wait between retries (default 30 s). */
  readonly maxRetryMs?: number;
  /** Monotonic ms for aggregation windows (tests inject a clock). */
  readonly now?: () => number;
  /** Background timers (flush, aggregation sweep); off in tests that drive tick()/flush(). */
  readonly timers?: boolean;
  /** pald's own log: told when writing starts failing and when it recovers. */
  readonly log?: (line: string) => void;
}

export interface AuditCounters {
  allow: number;
  deny: number;
  error: number;
}

export interface AuditHealth extends WriterHealth {
  readonly path: string;
  /** Exact number of decisions recorded, per decision, since start. */
  readonly decisions: AuditCounters;
  /** Refusals folded into a `repeated` line (written or still pending in a window). */
  readonly aggregated: number;
}

export class AuditLog {
  // The written lines themselves (recent() parses the few asked for): no object per line is kept.
  private readonly ring: LineRing;
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly sweepTimer: NodeJS.Timeout | undefined;
  private readonly subscribers = new Set<(e: AuditEvent) => void>();
  private readonly aggregator: RepeatAggregator;
  private readonly writer: ResilientWriter;
  private readonly counters: AuditCounters = { allow: 0, deny: 0, error: 0 };
  private readonly lines = new AuditLineFormatter();
  private folded = 0;
  private closed = false;

  private constructor(
    sink: LineSink,
    ringSize: number,
    private readonly timers: boolean,
    opts: AuditLogOptions,
  ) {
    this.ring = new LineRing(ringSize);
    this.aggregator = new RepeatAggregator({
      intervalMs: opts.repeatIntervalMs ?? REPEAT_INTERVAL_MS,
      now: opts.now ?? (() => performance.now()),
      maxKeys: opts.maxRepeatKeys ?? 10_000,
    });
    this.writer = new ResilientWriter(sink, {
      maxQueuedBytes: opts.maxQueuedBytes ?? 8 * 1024 * 1024,
      firstRetryMs: opts.firstRetryMs ?? 100,
      maxRetryMs: opts.maxRetryMs ?? 30_000,
      wallClock: Date.now,
      ...(opts.log
        ? {
            onStateChange: (state: string, detail: string) =>
              opts.log!(`pald: audit log ${state === 'ok' ? 'recovered' : 'FAILING'}: ${detail}`),
          }
        : {}),
    });
    if (timers) {
      // A quarter of the window: a folded count is written at most 1.25 windows after it started.
      this.sweepTimer = setInterval(() => this.tick(), Math.max(1, (opts.repeatIntervalMs ?? REPEAT_INTERVAL_MS) / 4));
      this.sweepTimer.unref();
    }
  }

  /** "-" writes to stderr; otherwise appends to the file (dir created, mode 0600). */
  static async open(file: string, opts: AuditLogOptions = {}): Promise<AuditLog> {
    const ringSize = Math.max(1, opts.ringSize ?? 1000);
    if (file === '-') return new AuditLog(new StderrSink(), ringSize, opts.timers ?? true, opts);
    const abs = path.resolve(file);
    await mkdir(path.dirname(abs), { recursive: true, mode: 0o750 });
    return new AuditLog(await FileSink.open(abs), ringSize, opts.timers ?? true, opts);
  }

  /** Over any sink (tests: a sink that fails on demand). The sink is expected open. */
  static over(sink: LineSink, opts: AuditLogOptions = {}): AuditLog {
    return new AuditLog(sink, Math.max(1, opts.ringSize ?? 1000), opts.timers ?? true, opts);
  }

  get path(): string {
    return this.writer.path;
  }

  record(e: AuditEvent): void {
    if (this.closed) return;
    if (e.decision === 'allow') {
      // Never folded (aggregate.ts): written as it is, formatted with sanitizeEvent's rules.
      this.counters.allow++;
      this.emitLine(this.lines.format(e, false), this.lines.bytes);
      return;
    }
    const clean = sanitizeEvent(e, false); // a count is ours to set, never a caller's
    this.counters[clean.decision]++;
    const lines = this.aggregator.admit(clean);
    if (lines.length === 0) this.folded++;
    for (const line of lines) this.emit(line);
  }

  /**
   * The constant part of an allow line after the pid (from `,"uid":` through the reason), exactly as
   * record() writes it: the warm path's addon writes such lines itself (native/src/audit_line.h)
   * and hands them to appendLines.
   */
  replayTail(e: AuditEvent): string | undefined {
    return this.closed || e.decision !== 'allow' ? undefined : this.lines.tailAfterPid(e);
  }

  /** Allow lines the addon wrote from a replayTail: `count` of them, UTF-8, each ending in a newline. */
  appendLines(lines: Buffer, count: number): void {
    if (this.closed || count <= 0) return;
    this.counters.allow += count;
    this.ring.pushChunk(lines, count);
    this.writer.enqueueLines(lines, count);
    this.scheduleFlush();
    if (this.subscribers.size === 0) return;
    for (const line of linesOf(lines, count)) this.notify(line);
  }

  /** Writes the counts of aggregation windows that have ended (the sweep timer calls this). */
  tick(): void {
    if (this.closed) return;
    for (const line of this.aggregator.due()) this.emit(line);
  }

  /** Writes what is queued now (tests; close and reopen do it themselves). */
  flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    return this.writer.flush();
  }

  /**
   * SIGHUP: open the path again (logrotate moved the file away) and retry at once if writes
   * were failing. Never throws; a failure shows in health().
   */
  async reopen(): Promise<void> {
    if (this.closed) return;
    await this.writer.reopen();
  }

  private emit(event: AuditEvent): void {
    this.emitLine(this.lines.format(event, true), this.lines.bytes);
  }

  /** `line`: the JSON text of a sanitized event, `bytes` its UTF-8 length. */
  private emitLine(line: string, bytes: number): void {
    this.ring.push(line);
    // Never awaited: a stalled or full disk is the writer's to retry and count.
    this.writer.enqueue(line, bytes);
    this.scheduleFlush();
    if (this.subscribers.size !== 0) this.notify(line);
  }

  private scheduleFlush(): void {
    if (this.timers) this.flushTimer ??= setTimeout(() => void this.flush(), FLUSH_INTERVAL_MS);
  }

  private notify(line: string): void {
    const event = JSON.parse(line) as AuditEvent;
    for (const s of this.subscribers) {
      try {
        s(event);
      } catch {
        // A broken subscriber (a closed admin connection) must not affect logging.
      }
    }
  }

  /** The last n lines (all kept when n is absent), oldest first. */
  recent(n?: number): AuditEvent[] {
    return this.ring.recent(n).map((line) => JSON.parse(line) as AuditEvent);
  }

  subscribe(cb: (e: AuditEvent) => void): () => void {
    this.subscribers.add(cb);
    return () => this.subscribers.delete(cb);
  }

  health(): AuditHealth {
    return {
      path: this.writer.path,
      ...this.writer.health(),
      decisions: { ...this.counters },
      aggregated: this.folded,
    };
  }

  lastError(): string | undefined {
    return this.writer.health().lastError;
  }

  /** Lines that will never be written (queue full while the file failed, or still failing at close). */
  dropped(): number {
    return this.writer.health().droppedLines;
  }

  /** Writes every folded count, makes one last attempt at the file, and closes it. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const line of this.aggregator.drain()) this.emit(line);
    this.closed = true;
    this.subscribers.clear();
    clearTimeout(this.flushTimer);
    clearInterval(this.sweepTimer);
    await this.writer.close();
  }
}
