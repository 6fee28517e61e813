// One HTTP exchange with a registry or its token service: a deadline over headers and body together,
// a byte limit enforced while reading (Content-Length is a hint, never trusted), and failures sorted
// into outage (unreachable) versus everything else.
import { fetch, type Dispatcher } from 'undici';
import { RegistryError } from './types.js';

export interface HttpResponse {
  readonly status: number;
  readonly headers: Headers;
  /** Body of a 2xx answer (empty otherwise: error bodies are not read). */
  readonly body: Buffer;
}

export interface HttpRequest {
  readonly url: URL;
  readonly headers: Record<string, string>;
  readonly dispatcher: Dispatcher;
  readonly timeoutMs: number;
  readonly maxBytes: number;
  /** For messages: "manifest sha256:… of 127.0.0.1:5000/pal/demo". */
  readonly what: string;
}

const NETWORK_CODES =
  /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ENOTFOUND|EPIPE|ECONNABORTED|UND_ERR_SOCKET|UND_ERR_CONNECT_TIMEOUT|UND_ERR_HEADERS_TIMEOUT|UND_ERR_BODY_TIMEOUT|UND_ERR_CLOSED)$/;

function causeCode(e: unknown): string {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur !== null && typeof cur === 'object'; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return '';
}

function failure(req: HttpRequest, e: unknown, timedOut: boolean): RegistryError {
  if (e instanceof RegistryError) return e;
  const code = causeCode(e);
  if (timedOut) return new RegistryError(`${req.what}: no answer within ${req.timeoutMs} ms`, 'unreachable');
  // Only network trouble counts as an outage; TLS failures are configuration or attack.
  if (NETWORK_CODES.test(code))
    return new RegistryError(`${req.what}: ${req.url.host} unreachable (${code})`, 'unreachable');
  const tls = /CERT|SSL|TLS|VERIFY|ISSUER|SELF_SIGNED|ERR_TLS/.test(code) ? ' (TLS failure)' : '';
  return new RegistryError(
    `${req.what}: ${req.url.host} failed: ${code || (e as Error).message}${tls}`,
    'bad-response',
  );
}

async function readLimited(res: Response, req: HttpRequest): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? '');
  if (Number.isFinite(declared) && declared > req.maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new RegistryError(`${req.what}: ${declared} bytes, more than the ${req.maxBytes} allowed`, 'bad-response');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  if (res.body === null) return Buffer.alloc(0);
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = (await reader.read()) as { done: boolean; value?: Uint8Array };
    if (done || value === undefined) break;
    size += value.byteLength;
    if (size > req.maxBytes) {
      await reader.cancel().catch(() => {});
      throw new RegistryError(`${req.what}: larger than the ${req.maxBytes} bytes allowed`, 'bad-response');
    }
    chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }
  return Buffer.concat(chunks, size);
}

/** GET without following redirects (the caller decides where credentials may go). */
export async function httpGet(req: HttpRequest): Promise<HttpResponse> {
  const signal = AbortSignal.timeout(req.timeoutMs);
  try {
    const res = await fetch(req.url, {
      method: 'GET',
      headers: req.headers,
      redirect: 'manual',
      dispatcher: req.dispatcher,
      signal,
    });
    if (res.status < 200 || res.status > 299) {
      await res.body?.cancel().catch(() => {});
      return { status: res.status, headers: res.headers, body: Buffer.alloc(0) };
    }
    return { status: res.status, headers: res.headers, body: await readLimited(res, req) };
  } catch (e) {
    throw failure(req, e, signal.aborted);
  }
}
