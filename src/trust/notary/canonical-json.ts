// Canonical JSON as Notary signs it (docker/go canonical/json, OLPC style): no whitespace, object
// keys sorted by UTF-8 byte order, strings escape only `"` and `\` (everything else goes out raw),
// integers only. We re-encode parsed values instead of trusting the bytes we were sent, exactly as
// the Go verifier does, so a reformatted but otherwise identical document still verifies.

export class CanonicalJsonError extends Error {}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function encodeString(s: string): string {
  return '"' + s.replace(/["\\]/g, (m) => '\\' + m) + '"';
}

function encodeValue(value: unknown, depth: number): string {
  // Metadata is a few levels deep; a very deep document is hostile, not data.
  if (depth > 64) throw new CanonicalJsonError('JSON nested too deeply');
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return encodeString(value);
    case 'number':
      if (!Number.isSafeInteger(value)) {
        throw new CanonicalJsonError(`canonical JSON allows only exact integers, got ${String(value)}`);
      }
      return String(value);
    case 'object': {
      if (Array.isArray(value)) return '[' + value.map((v) => encodeValue(v, depth + 1)).join(',') + ']';
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).sort(compareUtf8);
      return '{' + keys.map((k) => encodeString(k) + ':' + encodeValue(obj[k], depth + 1)).join(',') + '}';
    }
    default:
      throw new CanonicalJsonError(`value of type ${typeof value} has no JSON form`);
  }
}

/** Canonical JSON text of a parsed JSON value. Throws CanonicalJsonError on values JSON can't carry. */
export function canonicalJson(value: unknown): string {
  return encodeValue(value, 0);
}

/** Canonical JSON as the UTF-8 bytes that signatures cover. */
export function canonicalJsonBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}
