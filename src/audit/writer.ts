// Getting audit lines onto disk without ever giving up (SPEC §5): a failed write (ENOSPC, EIO, a
// file removed under us) is retried with backoff, by reopening the path, while new lines wait in
// a bounded queue; what the queue cannot hold is counted, never silently lost. Health (ok or
// failing, last error, dropped lines) is what `pal status` shows.

import { close, fchmod, fstat, open, write, constants } from 'node:fs';
import { errorMessage } from '../shared/error-message.js';

/** Where lines go: a file reopened by path, or stderr. Our own interface (tests pass fakes). */
export interface LineSink {
  readonly path: string;
  /** Writes some prefix of data; resolves with how many bytes went out. */
  write(data: Buffer): Promise<number>;
  /** Start writing to whatever the path names now (after logrotate, or after an error). */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

function callback<T>(run: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value))));
}

/** Appends to a file by descriptor (O_APPEND: a rotated or shared file is never overwritten). */
export class FileSink implements LineSink {
  private fd: number | undefined;

  private constructor(readonly path: string) {}

  static async open(path: string): Promise<FileSink> {
    const sink = new FileSink(path);
    await sink.reopen();
    return sink;
  }

  async write(data: Buffer): Promise<number> {
    if (this.fd === undefined) throw Object.assign(new Error(`audit log ${this.path} is not open`), { code: 'EBADF' });
    const fd = this.fd;
    return callback<number>((cb) => write(fd, data, 0, data.length, null, cb));
  }

  async reopen(): Promise<void> {
    const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT; // libuv adds O_CLOEXEC
    const fd = await callback<number>((cb) => open(this.path, flags, 0o600, cb));
    try {
      // A log that predates us may have a wider mode; only a regular file is ours to tighten
      // (never chmod whatever device or file a path happens to name).
      const st = await callback<import('node:fs').Stats>((cb) => fstat(fd, cb));
      if (st.isFile() && (st.mode & 0o077) !== 0)
        await callback<void>((cb) => fchmod(fd, 0o600, (err) => cb(err, undefined)));
    } catch (err) {
      await callback<void>((cb) => close(fd, (e) => cb(e, undefined))).catch(() => undefined);
      throw err;
    }
    const previous = this.fd;
    this.fd = fd;
    if (previous !== undefined)
      await callback<void>((cb) => close(previous, (e) => cb(e, undefined))).catch(() => undefined);
  }

  async close(): Promise<void> {
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) await callback<void>((cb) => close(fd, (e) => cb(e, undefined))).catch(() => undefined);
  }
}

/** "-": pald's stderr (journald under systemd). Nothing to reopen. */
export class StderrSink implements LineSink {
  readonly path = '-';
  write(data: Buffer): Promise<number> {
    return new Promise((resolve, reject) =>
      process.stderr.write(data, (err) => (err ? reject(err) : resolve(data.length))),
    );
  }
  async reopen(): Promise<void> {}
  async close(): Promise<void> {}
}

export interface WriterHealth {
  readonly state: 'ok' | 'failing';
  readonly lastError?: string;
  /** ISO time of the last failed write or reopen. */
  readonly lastErrorAt?: string;
  /** Lines that will never be written (the queue was full while the sink failed). */
  readonly droppedLines: number;
  /** Lines waiting to be written (a retry will take them). */
  readonly pendingLines: number;
  readonly writtenLines: number;
}

export interface ResilientWriterOptions {
  /** Bound on queued bytes while the sink fails or stalls. */
  readonly maxQueuedBytes: number;
  /** First retry delay after a failure; doubled per failure up to maxRetryMs. */
  readonly firstRetryMs: number;
  readonly maxRetryMs: number;
  readonly wallClock: () => number;
  /** Told when writes start failing and when they work again (pald's own log). */
  readonly onStateChange?: (state: 'ok' | 'failing', detail: string) => void;
}

export class ResilientWriter {
  /** Lines as strings, and runs of lines already in UTF-8 (each line newline-ended). */
  private queue: (string | Buffer)[] = [];
  private queuedLines = 0;
  private queuedBytes = 0;
  /** Every string queued is ASCII (its UTF-8 is its latin1: encoded as a copy, not a transcoding). */
  private queuedAscii = true;
  /** The unwritten tail of a failed or short write and how many lines it ends; written first. */
  private carry: { bytes: Buffer; lines: number } | undefined;
  private running: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  /** Set by reopen(): the next flush opens the path again before writing. */
  private reopenWanted = false;
  private lastError: string | undefined;
  private lastErrorAt: number | undefined;
  private dropped = 0;
  private written = 0;
  private closed = false;

  constructor(
    private readonly sink: LineSink,
    private readonly options: ResilientWriterOptions,
  ) {}

  get path(): string {
    return this.sink.path;
  }

  /** Queues a line (`utf8Bytes`: its length in UTF-8, when the caller knows it); false (and counted) when the queue is full. */
  enqueue(line: string, utf8Bytes = Buffer.byteLength(line)): boolean {
    if (!this.room(utf8Bytes + 1, 1)) return false;
    this.queue.push(line);
    this.queuedLines++;
    this.queuedBytes += utf8Bytes + 1;
    if (utf8Bytes !== line.length) this.queuedAscii = false;
    return true;
  }

  /** Queues `count` lines already in UTF-8, each ending in a newline; false (all counted) when they do not fit. */
  enqueueLines(bytes: Buffer, count: number): boolean {
    if (!this.room(bytes.length, count)) return false;
    this.queue.push(bytes);
    this.queuedLines += count;
    this.queuedBytes += bytes.length;
    return true;
  }

  /** Whether `bytes` more fit in the queue; when not, the `lines` are counted dropped. */
  private room(bytes: number, lines: number): boolean {
    if (this.closed || this.queuedBytes + (this.carry?.bytes.length ?? 0) + bytes > this.options.maxQueuedBytes) {
      this.dropped += lines;
      return false;
    }
    return true;
  }

  /**
   * Writes what is queued. While failing, lines wait for the retry timer (a disk that is full
   * is not asked again per request); pass force to try now (reopen, close).
   */
  flush(force = false): Promise<void> {
    if (this.running) return this.running;
    if (!force && this.retryTimer !== undefined) return Promise.resolve();
    if (force && this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    const run = (this.failures > 0 || this.reopenWanted ? this.reopenThenDrain() : this.drain()).finally(() => {
      this.running = undefined;
    });
    this.running = run;
    return run;
  }

  /** Start over on the file the path names now (SIGHUP after logrotate). */
  async reopen(): Promise<void> {
    await this.running;
    if (this.closed) return;
    this.reopenWanted = true;
    await this.flush(true);
  }

  health(): WriterHealth {
    return {
      state: this.failures > 0 ? 'failing' : 'ok',
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      ...(this.lastErrorAt !== undefined ? { lastErrorAt: new Date(this.lastErrorAt).toISOString() } : {}),
      droppedLines: this.dropped,
      pendingLines: this.queuedLines + (this.carry?.lines ?? 0),
      writtenLines: this.written,
    };
  }

  /** One last attempt, then whatever is still queued counts as dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush(true);
    this.closed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.dropped += this.queuedLines + (this.carry?.lines ?? 0);
    this.takeQueue();
    this.carry = undefined;
    await this.sink.close();
  }

  private async reopenThenDrain(): Promise<void> {
    try {
      await this.sink.reopen();
      this.reopenWanted = false;
    } catch (err) {
      this.failed(err);
      return;
    }
    await this.drain();
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.carry === undefined) {
        if (this.queue.length === 0) return;
        const lines = this.queuedLines;
        this.carry = { bytes: this.takeQueue(), lines };
      }
      let n: number;
      try {
        n = await this.sink.write(this.carry.bytes);
      } catch (err) {
        this.failed(err);
        return;
      }
      if (n >= this.carry.bytes.length) {
        this.written += this.carry.lines;
        this.carry = undefined;
      } else {
        // A short write: keep the tail (a torn line is finished, never left half-written).
        const rest = this.carry.bytes.subarray(n);
        const linesLeft = countNewlines(rest);
        this.written += this.carry.lines - linesLeft;
        this.carry = { bytes: rest, lines: linesLeft };
      }
      if (this.failures > 0) {
        this.failures = 0; // recovered; lastError stays visible as history
        this.options.onStateChange?.(
          'ok',
          `writing again to ${this.sink.path} (${this.dropped} line(s) dropped meanwhile)`,
        );
      }
    }
  }

  /** Everything queued as one run of bytes; the queue is empty after. */
  private takeQueue(): Buffer {
    const { queue, queuedAscii } = this;
    this.queue = [];
    this.queuedLines = 0;
    this.queuedBytes = 0;
    this.queuedAscii = true;
    const encoding = queuedAscii ? 'latin1' : 'utf8';
    const pieces: Buffer[] = [];
    let strings: string[] = [];
    const endStrings = (): void => {
      if (strings.length > 0) pieces.push(Buffer.from(strings.join('\n') + '\n', encoding));
      strings = [];
    };
    for (const item of queue) {
      if (typeof item === 'string') {
        strings.push(item);
      } else {
        endStrings();
        pieces.push(item);
      }
    }
    endStrings();
    return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
  }

  private failed(err: unknown): void {
    this.failures++;
    this.lastError = errorMessage(err);
    this.lastErrorAt = this.options.wallClock();
    if (this.failures === 1)
      this.options.onStateChange?.('failing', `cannot write to ${this.sink.path}: ${this.lastError}; retrying`);
    if (this.closed) return;
    const delay = Math.min(this.options.maxRetryMs, this.options.firstRetryMs * 2 ** Math.min(this.failures - 1, 20));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.flush(true);
    }, delay);
    this.retryTimer.unref();
  }
}

function countNewlines(bytes: Buffer): number {
  let n = 0;
  for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) n++;
  return n;
}
