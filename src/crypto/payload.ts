// The sealed payload (inside the OpenPGP encryption, so integrity-protected):
//   {"pal":1,"name":"db-password","labels":["a","b"]}\n<raw value bytes>
// One JSON header line, then the value verbatim: binary-safe, empty allowed.
import { labelProblem } from '../policy/index.js';
import { secretNameProblem } from '../store/index.js';
import { SecretError, type OpenedSecret, type SecureAllocator } from './types.js';

export const PAYLOAD_VERSION = 1;
/** The header line is bounded; a sealed payload is at most this plus limits.secret_bytes. */
export const MAX_HEADER_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

export interface PayloadHeader {
  readonly name: string;
  readonly labels: readonly string[];
}

export function encodePayload(header: PayloadHeader, value: Uint8Array): Uint8Array {
  const problem = secretNameProblem(header.name) ?? header.labels.map(labelProblem).find((p) => p !== undefined);
  if (problem) throw new Error(problem);
  const head = Buffer.from(
    JSON.stringify({ pal: PAYLOAD_VERSION, name: header.name, labels: [...header.labels] }) + '\n',
    'utf8',
  );
  const out = new Uint8Array(head.length + value.length);
  out.set(head, 0);
  out.set(value, head.length);
  return out;
}

/** Parses the header; the value is data.subarray(valueOffset). Throws with a reason on anything unexpected. */
export function decodePayload(data: Uint8Array): PayloadHeader & { readonly valueOffset: number } {
  const limit = Math.min(data.length, MAX_HEADER_BYTES);
  let nl = -1;
  for (let i = 0; i < limit; i++) {
    if (data[i] === NEWLINE) {
      nl = i;
      break;
    }
  }
  if (nl < 0) throw new Error('not a pal sealed payload (no header line)');
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(data.buffer, data.byteOffset, nl).toString('utf8'));
  } catch {
    throw new Error('not a pal sealed payload (header is not JSON)');
  }
  if (typeof header !== 'object' || header === null)
    throw new Error('not a pal sealed payload (header is not an object)');
  const h = header as Record<string, unknown>;
  if (h['pal'] !== PAYLOAD_VERSION) throw new Error(`unsupported sealed payload version ${JSON.stringify(h['pal'])}`);
  const name = h['name'];
  const labels = h['labels'];
  if (typeof name !== 'string' || secretNameProblem(name)) throw new Error('sealed payload has an invalid name');
  if (!Array.isArray(labels)) throw new Error('sealed payload has invalid labels (not a list)');
  if (labels.length > 1000) throw new Error('sealed payload has invalid labels (more than 1000)');
  // One grammar everywhere: a sealed label outside it could never match a verified one.
  for (const l of labels as unknown[]) {
    const problem = labelProblem(l);
    if (problem) throw new Error(`sealed payload has an invalid label: ${problem}`);
  }
  return { name, labels: labels as string[], valueOffset: nl + 1 };
}

/**
 * A decrypted payload → the secret it carries: the header parsed (and `check`ed by the caller), the value
 * bounded by `maxSecret` and copied into secure memory. Any problem is a corrupt secret; `data` is wiped
 * whatever happens (best effort: copies inside the decryption library are beyond reach, see docs/manifest.md).
 */
export function openPayload(
  entryName: string,
  data: Uint8Array,
  maxSecret: number,
  allocSecure: SecureAllocator,
  check: (header: PayloadHeader) => void = () => {},
): OpenedSecret {
  try {
    const header = decodePayload(data);
    check(header);
    const valueBytes = data.length - header.valueOffset;
    if (valueBytes > maxSecret)
      throw new Error(`plaintext of ${valueBytes} bytes is larger than limits.secret_bytes (${maxSecret})`);
    const plaintext = allocSecure(data.subarray(header.valueOffset));
    return { plaintext, sealedName: header.name, sealedLabels: header.labels };
  } catch (err) {
    throw new SecretError('corrupt', `${entryName}: ${(err as Error).message}`);
  } finally {
    data.fill(0);
  }
}
