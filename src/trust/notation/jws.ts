// Notation's JWS signature envelope (Notary Project signature specification, JWS flattened JSON):
// parse a hostile envelope into what verification needs, or say precisely why it is refused.
// Nothing here is trusted yet: the signature, certificates and identities are checked in verify.ts.
import { NotationError, type ParsedEnvelope, type TargetArtifact } from './types.js';

export const JWS_MEDIA_TYPE = 'application/jose+json';
export const PAYLOAD_CONTENT_TYPE = 'application/vnd.cncf.notary.payload.v1+json';
const SIGNING_SCHEME = 'io.cncf.notary.signingScheme';
const SIGNING_TIME = 'io.cncf.notary.signingTime';
const EXPIRY = 'io.cncf.notary.expiry';
const AUTHENTIC_SIGNING_TIME = 'io.cncf.notary.authenticSigningTime';
const VERIFICATION_PLUGIN = 'io.cncf.notary.verificationPlugin';
const VERIFICATION_PLUGIN_MIN_VERSION = 'io.cncf.notary.verificationPluginMinVersion';

/** Protected header members pald understands; `crit` may name only these (RFC 7515 §4.1.11). */
const UNDERSTOOD_CRITICAL = new Set([SIGNING_SCHEME, EXPIRY]);
const ALGORITHMS = new Set(['PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512']);
const MAX_ENVELOPE_BYTES = 256 * 1024;
const MAX_CHAIN = 10;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const DIGEST = /^(sha256|sha384|sha512):([0-9a-f]+)$/;
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
/** RFC 3339 date-time, as Notation writes signing time and expiry. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fromBase64url(value: unknown, what: string): Buffer {
  if (typeof value !== 'string' || !BASE64URL.test(value) || value.length % 4 === 1)
    throw new NotationError(`${what} is not base64url`);
  return Buffer.from(value, 'base64url');
}

export function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new NotationError(`${what} is not UTF-8 JSON (${(e as Error).message})`);
  }
}

function parseTime(value: unknown, what: string): number {
  if (typeof value !== 'string' || !RFC3339.test(value)) throw new NotationError(`${what} is not an RFC 3339 time`);
  const t = Date.parse(value);
  if (!Number.isFinite(t)) throw new NotationError(`${what} is not a valid time`);
  return t;
}

/** The protected header: algorithm, content type, critical members, signing scheme and times. */
export function parseProtectedHeader(header: unknown): Pick<ParsedEnvelope, 'alg' | 'signingTime' | 'expiry'> {
  if (!isObject(header)) throw new NotationError('protected header is not a JSON object');
  const alg = header['alg'];
  if (typeof alg !== 'string' || !ALGORITHMS.has(alg))
    throw new NotationError(`signature algorithm ${JSON.stringify(alg)} is not one of ${[...ALGORITHMS].join(', ')}`);
  if (header['cty'] !== PAYLOAD_CONTENT_TYPE)
    throw new NotationError(`payload content type ${JSON.stringify(header['cty'])} is not ${PAYLOAD_CONTENT_TYPE}`);
  const crit = header['crit'];
  if (!Array.isArray(crit) || crit.length === 0 || !crit.every((c) => typeof c === 'string'))
    throw new NotationError('protected header "crit" is not a non-empty list of names');
  for (const name of crit) {
    if (!UNDERSTOOD_CRITICAL.has(name))
      throw new NotationError(`critical header ${JSON.stringify(name)} is not supported`);
    if (!(name in header)) throw new NotationError(`critical header ${JSON.stringify(name)} is missing`);
  }
  const scheme = header[SIGNING_SCHEME];
  if (scheme !== 'notary.x509') {
    // notary.x509.signingAuthority needs an RFC 3161 timestamp authority, which pald does not verify.
    throw new NotationError(`signing scheme ${JSON.stringify(scheme)} is not supported (only notary.x509)`);
  }
  if (!crit.includes(SIGNING_SCHEME)) throw new NotationError(`"crit" does not list ${SIGNING_SCHEME}`);
  if (EXPIRY in header && !crit.includes(EXPIRY)) throw new NotationError(`"crit" does not list ${EXPIRY}`);
  // A signer that demands a verification plugin wants checks pald cannot make: refuse, never skip.
  for (const member of [VERIFICATION_PLUGIN, VERIFICATION_PLUGIN_MIN_VERSION, AUTHENTIC_SIGNING_TIME]) {
    if (member in header) throw new NotationError(`protected header ${member} is not supported`);
  }
  const signingTime = parseTime(header[SIGNING_TIME], SIGNING_TIME);
  const expiry = EXPIRY in header ? parseTime(header[EXPIRY], EXPIRY) : undefined;
  if (expiry !== undefined && expiry <= signingTime) throw new NotationError('expiry is not after the signing time');
  return { alg, signingTime, ...(expiry !== undefined ? { expiry } : {}) };
}

/** `{"targetArtifact": {mediaType, digest, size, annotations?}}`. */
export function parsePayload(payload: unknown): TargetArtifact {
  if (!isObject(payload) || !isObject(payload['targetArtifact']))
    throw new NotationError('payload has no "targetArtifact" object');
  const t = payload['targetArtifact'];
  const { mediaType, digest, size, annotations } = t;
  if (typeof mediaType !== 'string' || mediaType.length === 0 || mediaType.length > 255)
    throw new NotationError('targetArtifact.mediaType is not a media type');
  const m = typeof digest === 'string' ? DIGEST.exec(digest) : null;
  if (m === null || m[2]!.length !== DIGEST_HEX_LENGTH[m[1]!])
    throw new NotationError('targetArtifact.digest is not <algorithm>:<hex>');
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    throw new NotationError('targetArtifact.size is not an integer ≥ 0');
  const out: Record<string, string> = {};
  if (annotations !== undefined) {
    if (!isObject(annotations)) throw new NotationError('targetArtifact.annotations is not an object');
    for (const [k, v] of Object.entries(annotations)) {
      if (typeof v !== 'string')
        throw new NotationError(`targetArtifact.annotations[${JSON.stringify(k)}] is not a string`);
      out[k] = v;
    }
  }
  return { mediaType, digest: digest as string, size, annotations: out };
}

/** Parse a JWS flattened JSON envelope; throws NotationError with the reason. */
export function parseJwsEnvelope(bytes: Buffer): ParsedEnvelope {
  if (bytes.length > MAX_ENVELOPE_BYTES) throw new NotationError(`envelope is larger than ${MAX_ENVELOPE_BYTES} bytes`);
  const envelope = parseJson(bytes, 'envelope');
  if (!isObject(envelope)) throw new NotationError('envelope is not a JSON object');
  if ('signatures' in envelope)
    throw new NotationError('general JWS serialisation is not Notation (expected flattened)');
  const protectedB64 = envelope['protected'];
  const payloadB64 = envelope['payload'];
  const protectedBytes = fromBase64url(protectedB64, 'protected header');
  const payloadBytes = fromBase64url(payloadB64, 'payload');
  const signature = fromBase64url(envelope['signature'], 'signature');
  if (signature.length === 0) throw new NotationError('signature is empty');
  const headerFields = parseProtectedHeader(parseJson(protectedBytes, 'protected header'));
  const unprotected = envelope['header'];
  if (!isObject(unprotected)) throw new NotationError('unprotected header is missing');
  const x5c = unprotected['x5c'];
  if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > MAX_CHAIN)
    throw new NotationError(`x5c is not a list of 1 to ${MAX_CHAIN} certificates`);
  const certificates = x5c.map((c, i) => {
    if (typeof c !== 'string' || !BASE64.test(c) || c.length === 0) throw new NotationError(`x5c[${i}] is not base64`);
    return Buffer.from(c, 'base64');
  });
  return {
    ...headerFields,
    format: 'jws',
    signingInput: Buffer.from(`${protectedB64 as string}.${payloadB64 as string}`, 'ascii'),
    signature,
    certificates,
    target: parsePayload(parseJson(payloadBytes, 'payload')),
  };
}
