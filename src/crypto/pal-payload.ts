// The payload of a Cloudflare PAL OpenPGP ciphertext (its palpgpenc tool): the JSON of Go's
// struct {Labels []string `json:"labels"`; Value []byte `json:"value"`}, so `value` is base64 (Go
// encodes []byte so) and, for a `pgp+base64:` entry, the bytes it holds are base64 once more.
// It carries no name: a PAL ciphertext is bound to its labels only (as it was in PAL).
// Hostile input even after decryption (anyone can encrypt to the host's public key).

import { labelProblem } from '../policy/index.js';

export interface PalPayload {
  readonly labels: readonly string[];
  /** The value as served (both base64 layers removed); the caller wipes it. */
  readonly value: Buffer;
}

/** Go's base64.StdEncoding as encoding/json and PAL's client use it: \r and \n are skipped. */
function goBase64(text: string, what: string): Buffer {
  const compact = text.replace(/[\r\n]/g, '');
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) throw new Error(`${what} is not base64`);
  return Buffer.from(compact, 'base64');
}

/** Field of a Go-decoded JSON object: Go matches names case-insensitively; two spellings are refused. */
function field(obj: Record<string, unknown>, name: string): unknown {
  const keys = Object.keys(obj).filter((k) => k.toLowerCase() === name);
  if (keys.length > 1) throw new Error(`the payload names "${name}" twice`);
  return keys.length === 0 ? undefined : obj[keys[0]!];
}

export function decodePalPayload(data: Uint8Array, valueIsBase64: boolean, maxValueBytes: number): PalPayload {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data));
  } catch {
    throw new Error('the PAL payload is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error('the PAL payload is not a JSON object');
  const obj = parsed as Record<string, unknown>;
  const labels = field(obj, 'labels');
  if (!Array.isArray(labels) || labels.length === 0 || labels.length > 64)
    throw new Error('the PAL payload has no list of labels');
  for (const l of labels as unknown[]) {
    const problem = labelProblem(l);
    if (problem) throw new Error(`PAL payload label: ${problem}`);
  }
  const value = field(obj, 'value');
  if (typeof value !== 'string') throw new Error('the PAL payload value is not a base64 string');
  if (value.length > Math.ceil((maxValueBytes * 4) / 3) * (valueIsBase64 ? 2 : 1) + 4096)
    throw new Error(`the PAL payload value is larger than limits.secret_bytes (${maxValueBytes})`);
  let bytes = goBase64(value, 'the PAL payload value');
  if (valueIsBase64) {
    const inner = bytes;
    try {
      bytes = goBase64(inner.toString('latin1'), 'the +base64 value');
    } finally {
      inner.fill(0);
    }
  }
  if (bytes.length > maxValueBytes) {
    bytes.fill(0);
    throw new Error(`plaintext of ${bytes.length} bytes is larger than limits.secret_bytes (${maxValueBytes})`);
  }
  return { labels: [...new Set(labels as string[])].sort(), value: bytes };
}

/**
 * The value of a Cloudflare PAL `ro:` entry from Red October's /decrypt Data: PAL served the
 * plaintext as is, or for `ro+base64:` (Red October carries strings only) base64-decoded once
 * more by its client. No JSON payload: the labels are Red October's own. The caller wipes `data`.
 */
export function decodePalRoValue(data: Uint8Array, valueIsBase64: boolean, maxValueBytes: number): Buffer {
  const bytes = valueIsBase64
    ? goBase64(Buffer.from(data).toString('latin1'), 'the ro+base64: value')
    : Buffer.from(data);
  if (bytes.length > maxValueBytes) {
    bytes.fill(0);
    throw new Error(`plaintext of ${bytes.length} bytes is larger than limits.secret_bytes (${maxValueBytes})`);
  }
  return bytes;
}
