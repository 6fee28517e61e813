// Audit log: one JSON object per access decision (SPEC §5), appended without
// blocking the request path, with a ring of recent events for `pal audit`.
import { createWriteStream, type WriteStream } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';

export interface AuditEvent {
  time: string;
  pid: number;
  uid: number;
  gid: number;
  container?: string;
  image?: string;
  labels?: readonly string[];
  secret?: string;
  op: string;
  decision: 'allow' | 'deny' | 'error';
  reason: string;
  latency_us: number;
}

const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** Longest an event waits in memory before it is written; bounds what a crash can lose. */
const FLUSH_INTERVAL_MS = 10;

export interface AuditLogOptions {
  /** Events kept in memory for recent() (default 1000). */
  readonly ringSize?: number;
}

/**
 * Copies only the known fields, in SPEC order: whatever else a caller put on
 * the object (a buffer, a value) never reaches the log.
 */
export function sanitizeEvent(e: AuditEvent): AuditEvent {
  const out: AuditEvent = {
    time: String(e.time),
    pid: Number(e.pid),
    uid: Number(e.uid),
    gid: Number(e.gid),
    op: String(e.op),
    decision: e.decision === 'allow' || e.decision === 'deny' ? e.decision : 'error',
    reason: String(e.reason),
    latency_us: Math.round(Number(e.latency_us)),
  };
  const ordered: AuditEvent = {
    time: out.time,
    pid: out.pid,
    uid: out.uid,
    gid: out.gid,
    ...(e.container === undefined ? {} : { container: String(e.container) }),
    ...(e.image === undefined ? {} : { image: String(e.image) }),
    ...(e.labels === undefined ? {} : { labels: e.labels.map(String) }),
    ...(e.secret === undefined ? {} : { secret: String(e.secret) }),
    op: out.op,
    decision: out.decision,
    reason: out.reason,
    latency_us: out.latency_us,
  };
  return ordered;
}

export class AuditLog {
  // Fixed-size circular buffer: record() is on every request's path, so no array shifting.
  private readonly ring: AuditEvent[] = [];
  private ringNext = 0;
  // Lines waiting for the next flush: one write per FLUSH_INTERVAL_MS instead of one per
  // request (a write is a trip through libuv's thread pool, ~10 µs of the request path).
  private pending: string[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly subscribers = new Set<(e: AuditEvent) => void>();
  private closed = false;
  private writeError: Error | undefined;
  private droppedLines = 0;

  private constructor(
    readonly path: string,
    private readonly out: WriteStream | NodeJS.WriteStream,
    private readonly ringSize: number,
  ) {
    out.on('error', (err: Error) => {
      // Never crash pald for a full disk; surface it through lastError().
      this.writeError = err;
    });
  }

  /** "-" writes to stderr; otherwise appends to the file (dir created, mode 0600). */
  static async open(file: string, opts: AuditLogOptions = {}): Promise<AuditLog> {
    const ringSize = Math.max(1, opts.ringSize ?? 1000);
    if (file === '-') return new AuditLog('-', process.stderr, ringSize);
    const abs = path.resolve(file);
    await mkdir(path.dirname(abs), { recursive: true, mode: 0o750 });
    const stream = createWriteStream(abs, { flags: 'a', mode: 0o600 });
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
    // The file may predate us with a wider mode.
    await chmod(abs, 0o600);
    return new AuditLog(abs, stream, ringSize);
  }

  record(e: AuditEvent): void {
    if (this.closed) return;
    const clean = sanitizeEvent(e);
    if (this.ring.length < this.ringSize) this.ring.push(clean);
    else this.ring[this.ringNext] = clean;
    this.ringNext = (this.ringNext + 1) % this.ringSize;
    // Buffered and never awaited; if the disk stalls, stop growing memory and count the loss.
    if (this.writeError || this.out.writableLength > MAX_BUFFERED_BYTES) this.droppedLines++;
    else {
      this.pending.push(JSON.stringify(clean));
      this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_INTERVAL_MS);
    }
    for (const s of this.subscribers) {
      try {
        s(clean);
      } catch {
        // A broken subscriber (a closed admin connection) must not affect logging.
      }
    }
  }

  private flush(): void {
    this.flushTimer = undefined;
    if (this.pending.length === 0) return;
    const lines = this.pending.join('\n') + '\n';
    this.pending = [];
    this.out.write(lines);
  }

  /** The last n events (all kept when n is absent), oldest first. */
  recent(n?: number): AuditEvent[] {
    const inOrder = this.ring.length < this.ringSize ? this.ring : [...this.ring.slice(this.ringNext), ...this.ring.slice(0, this.ringNext)];
    return n === undefined ? [...inOrder] : inOrder.slice(Math.max(0, inOrder.length - n));
  }

  subscribe(cb: (e: AuditEvent) => void): () => void {
    this.subscribers.add(cb);
    return () => this.subscribers.delete(cb);
  }

  lastError(): Error | undefined {
    return this.writeError;
  }

  /** Events not written to the file (write error or a stalled disk); they are still in recent(). */
  dropped(): number {
    return this.droppedLines;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.subscribers.clear();
    clearTimeout(this.flushTimer);
    this.flush();
    if (this.out === process.stderr) return;
    const stream = this.out as WriteStream;
    await new Promise<void>((resolve) => stream.end(() => resolve()));
  }
}
