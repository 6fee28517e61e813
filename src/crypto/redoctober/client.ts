// A small HTTPS JSON client for the Red October API. Every reply is HTTP 200 with a `Status`
// field (the error is in the body, not the status code), so the caller reads Status. The server's
// CA is pinned (only `redoctober.ca` is trusted), every request has a deadline, replies are size
// bounded, and only failures that happened before the request reached the server are retried: a
// retried /decrypt that the server did run would take a second delegation use.
import { request, type RequestOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { parseJsonObject } from './envelope.js';

export interface RoClientOptions {
  /** https://host:port of the Red October server. */
  readonly server: string;
  /** PEM of the CA that signed the server's certificate (pinned: the system CAs are not trusted). */
  readonly ca: string | Buffer;
  /** Whole-request deadline, ms (default 10 s). */
  readonly timeoutMs?: number;
  /** Largest reply body accepted, bytes. */
  readonly maxResponseBytes: number;
  /** Attempts for failures before the request reached the server (default 3). */
  readonly attempts?: number;
  /** Pause before the second attempt, doubled after (default 100 ms). */
  readonly retryDelayMs?: number;
}

/** Why a call failed. `reached` tells whether the server may have seen the request. */
export class RoTransportError extends Error {
  override readonly name = 'RoTransportError';
  constructor(
    message: string,
    readonly reached: boolean,
  ) {
    super(message);
  }
}

export interface RoReply {
  /** "ok" on success, else the server's error text. */
  readonly status: string;
  readonly body: Record<string, unknown>;
}

/** The Status of a reply body, which must be a JSON object with a string Status. */
export function parseReply(body: Uint8Array): RoReply {
  let obj: Record<string, unknown>;
  try {
    obj = parseJsonObject(body, 'the reply');
  } catch (err) {
    throw new RoTransportError(`Red October replied with something else than JSON: ${(err as Error).message}`, true);
  }
  const status = obj['Status'];
  if (typeof status !== 'string' || status.length > 1024)
    throw new RoTransportError('Red October replied without a Status', true);
  return { status, body: obj };
}

export class RoClient {
  private readonly url: URL;

  constructor(private readonly opts: RoClientOptions) {
    this.url = new URL(opts.server);
    if (this.url.protocol !== 'https:') throw new Error(`redoctober.server must be https://, got ${opts.server}`);
  }

  get server(): string {
    return this.url.origin;
  }

  /** POSTs a JSON body to /path and returns the parsed reply (its Status may be an error). */
  async call(path: string, body: Record<string, unknown>): Promise<RoReply> {
    const attempts = Math.max(1, this.opts.attempts ?? 3);
    let delay = this.opts.retryDelayMs ?? 100;
    const payload = Buffer.from(JSON.stringify(body), 'utf8');
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          const raw = await this.post(path, payload);
          try {
            return parseReply(raw);
          } finally {
            raw.fill(0); // a /decrypt reply carries the plaintext (base64)
          }
        } catch (err) {
          const retriable = err instanceof RoTransportError && !err.reached;
          if (!retriable || attempt >= attempts) throw err;
          await new Promise((r) => setTimeout(r, delay));
          delay *= 2;
        }
      }
    } finally {
      payload.fill(0); // it carries the password
    }
  }

  private post(path: string, payload: Buffer): Promise<Buffer> {
    const timeoutMs = this.opts.timeoutMs ?? 10_000;
    const max = this.opts.maxResponseBytes;
    const options: RequestOptions = {
      protocol: 'https:',
      hostname: this.url.hostname.replace(/^\[|\]$/g, ''),
      port: this.url.port || 443,
      path,
      method: 'POST',
      ca: this.opts.ca,
      rejectUnauthorized: true,
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': payload.length },
    };
    return new Promise<Buffer>((resolve, reject) => {
      let reached = false; // the TLS handshake finished: the server may act on what we send
      let done = false;
      const finish = (err: Error | undefined, body?: Buffer): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) {
          req.destroy();
          reject(err instanceof RoTransportError ? err : new RoTransportError(err.message, reached));
        } else resolve(body!);
      };
      const timer = setTimeout(
        () => finish(new RoTransportError(`no reply from ${this.server} within ${timeoutMs} ms`, reached)),
        timeoutMs,
      );
      const req = request(options, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          finish(new RoTransportError(`${this.server}${path}: HTTP ${res.statusCode}`, true));
          return;
        }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > max) {
          finish(new RoTransportError(`reply of ${declared} bytes is larger than ${max}`, true));
          return;
        }
        const chunks: Buffer[] = [];
        let total = 0;
        res.on('data', (c: Buffer) => {
          total += c.length;
          if (total > max) {
            for (const b of chunks) b.fill(0);
            finish(new RoTransportError(`reply larger than ${max} bytes`, true));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          for (const b of chunks) b.fill(0);
          finish(undefined, body);
        });
        res.on('error', (e) => finish(e));
      });
      req.on('socket', (s) => (s as TLSSocket).once('secureConnect', () => (reached = true)));
      req.on('error', (e) => finish(e));
      req.end(payload);
    });
  }
}
