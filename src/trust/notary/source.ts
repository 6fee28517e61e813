// Where TUF metadata comes from: the Notary server's HTTP API (GET /v2/<gun>/_trust/tuf/<role>.json).
// Kept behind an interface so the verifier can be tested with crafted bytes.
import http from 'node:http';
import https from 'node:https';

export type FetchFailure = 'unreachable' | 'not-found' | 'bad-response';

export class FetchError extends Error {
  constructor(
    message: string,
    readonly kind: FetchFailure,
  ) {
    super(message);
  }
}

export interface MetadataSource {
  /** Bytes of ROLE.json for the GUN, at most maxBytes. Throws FetchError. */
  fetchRole(gun: string, role: string, maxBytes: number): Promise<Buffer>;
  close(): void;
}

export interface HttpSourceOptions {
  readonly server: string;
  /** PEM of the CA that signed the server's certificate (https only). */
  readonly ca?: string | Buffer;
  readonly timeoutMs: number;
}

const NETWORK_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EPIPE',
  'ECONNABORTED',
]);

// Repository names and TUF role names only: nothing that could step out of the path.
const SAFE_PATH = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;

export function httpMetadataSource(opts: HttpSourceOptions): MetadataSource {
  const base = new URL(opts.server);
  if (base.protocol !== 'https:' && base.protocol !== 'http:') {
    throw new Error(`notary server must be an http(s) URL, got ${opts.server}`);
  }
  const secure = base.protocol === 'https:';
  const agent = secure
    ? new https.Agent({ keepAlive: true, maxSockets: 8, ...(opts.ca !== undefined ? { ca: opts.ca } : {}) })
    : new http.Agent({ keepAlive: true, maxSockets: 8 });
  const prefix = base.pathname.replace(/\/+$/, '');

  function fetchRole(gun: string, role: string, maxBytes: number): Promise<Buffer> {
    if (!SAFE_PATH.test(gun) || gun.includes('..') || !SAFE_PATH.test(role) || role.includes('..')) {
      return Promise.reject(
        new FetchError(
          `refusing unsafe collection/role name ${JSON.stringify(gun)} ${JSON.stringify(role)}`,
          'bad-response',
        ),
      );
    }
    const url = new URL(`${prefix}/v2/${gun}/_trust/tuf/${role}.json`, base);
    const where = `${role}.json of ${gun}`;
    return new Promise<Buffer>((resolve, reject) => {
      const req = (secure ? https : http).get(url, { agent, signal: AbortSignal.timeout(opts.timeoutMs) }, (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          res.resume();
          if (status === 404) reject(new FetchError(`${where}: not on the notary server (404)`, 'not-found'));
          else if (status >= 500) reject(new FetchError(`${where}: notary server error ${status}`, 'unreachable'));
          else reject(new FetchError(`${where}: unexpected HTTP status ${status}`, 'bad-response'));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            req.destroy();
            reject(new FetchError(`${where}: larger than the ${maxBytes} bytes allowed`, 'bad-response'));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', (e) => reject(new FetchError(`${where}: ${e.message}`, 'unreachable')));
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        const timedOut = e.name === 'AbortError' || e.name === 'TimeoutError';
        const why = timedOut ? `no answer within ${opts.timeoutMs} ms` : (e.code ?? e.message);
        // Only network trouble counts as an outage; TLS verification failures and anything else
        // are configuration or attack, and never keep earlier decisions alive.
        const outage = timedOut || (typeof e.code === 'string' && NETWORK_ERRORS.has(e.code));
        reject(
          new FetchError(
            `${where}: notary server ${opts.server} ${outage ? 'unreachable' : 'failed'}: ${why}${/CERT|SSL|TLS|VERIFY|ISSUER|SELF_SIGNED/.test(e.code ?? '') ? ' (TLS failure)' : ''}`,
            outage ? 'unreachable' : 'bad-response',
          ),
        );
      });
    });
  }

  return { fetchRole, close: () => agent.destroy() };
}
