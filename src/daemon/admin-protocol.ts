// pald's admin API: newline-delimited JSON over a root-only unix socket.
// Request:  {"op":"status"} | {"op":"containers"} | {"op":"secrets"}
//           | {"op":"audit","n":50,"follow":false} | {"op":"explain","container":"c","secret":"s"}
// Response: {"ok":true,"result":…} or {"ok":false,"error":"…"}; with follow, the first response is
//           followed by {"event":{…}} lines until the client hangs up.

export type AdminRequest =
  | { readonly op: 'status' }
  | { readonly op: 'containers' }
  | { readonly op: 'secrets' }
  | { readonly op: 'audit'; readonly n?: number; readonly follow?: boolean }
  | { readonly op: 'explain'; readonly container: string; readonly secret: string };

export type AdminResponse =
  { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: string };

export const MAX_REQUEST_BYTES = 64 * 1024;

/** Validates one request line from the socket (hostile input: never throws, says why). */
export function parseAdminRequest(line: string): AdminRequest | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { error: 'request is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { error: 'request must be a JSON object' };
  const r = value as Record<string, unknown>;
  switch (r.op) {
    case 'status':
    case 'containers':
    case 'secrets':
      return { op: r.op };
    case 'audit': {
      const n = r.n === undefined ? 50 : r.n;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 100_000)
        return { error: 'audit: n must be an integer 0..100000' };
      if (r.follow !== undefined && typeof r.follow !== 'boolean') return { error: 'audit: follow must be a boolean' };
      return { op: 'audit', n, follow: r.follow === true };
    }
    case 'explain':
      if (typeof r.container !== 'string' || !r.container || r.container.length > 256)
        return { error: 'explain: container must be a non-empty string' };
      if (typeof r.secret !== 'string' || !r.secret || r.secret.length > 255)
        return { error: 'explain: secret must be a non-empty string' };
      return { op: 'explain', container: r.container, secret: r.secret };
    default:
      // Never re-serialise what the peer sent: a deeply nested value overflows JSON.stringify.
      return {
        error:
          typeof r.op === 'string'
            ? `unknown op ${JSON.stringify(r.op.slice(0, 64))}`
            : `unknown op (op must be a string, got ${Array.isArray(r.op) ? 'an array' : r.op === null ? 'null' : typeof r.op})`,
      };
  }
}
