// Notation's COSE signature envelope (Notary Project signature specification, COSE_Sign1, RFC 9052):
// decoded with cborg (strict CBOR: no indefinite lengths, no duplicate map keys), then mapped onto
// the same header rules as the JWS envelope so that both are checked by one piece of code.
import { decode, encode } from 'cborg';
import { parseJson, parsePayload, parseProtectedHeader } from './jws.js';
import { NotationError, type ParsedEnvelope } from './types.js';

const MAX_ENVELOPE_BYTES = 256 * 1024;
const MAX_CHAIN = 10;
const COSE_SIGN1_TAG = 18;
const EPOCH_TIME_TAG = 1;
const HEADER_ALG = 1;
const HEADER_CRIT = 2;
const HEADER_CONTENT_TYPE = 3;
const HEADER_X5CHAIN = 33;
/** COSE algorithm ids (IANA) → the JWS names the header rules use. */
const ALGORITHMS = new Map<unknown, string>([
  [-37, 'PS256'],
  [-38, 'PS384'],
  [-39, 'PS512'],
  [-7, 'ES256'],
  [-35, 'ES384'],
  [-36, 'ES512'],
]);

interface EpochTime {
  readonly epochSeconds: unknown;
}

const DECODE_OPTIONS = {
  useMaps: true,
  rejectDuplicateMapKeys: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowBigInt: false,
  tags: Object.assign([], {
    [COSE_SIGN1_TAG]: (content: () => unknown) => ({ sign1: content() }),
    [EPOCH_TIME_TAG]: (content: () => unknown): EpochTime => ({ epochSeconds: content() }),
  }),
};

function cbor(bytes: Uint8Array, what: string): unknown {
  try {
    return decode(bytes, DECODE_OPTIONS);
  } catch (e) {
    throw new NotationError(`${what} is not valid CBOR (${(e as Error).message})`);
  }
}

function bytesOf(v: unknown, what: string): Buffer {
  if (!(v instanceof Uint8Array)) throw new NotationError(`${what} is not a byte string`);
  return Buffer.from(v);
}

function time(v: unknown, what: string): string | undefined {
  if (v === undefined) return undefined;
  const seconds = typeof v === 'object' && v !== null && 'epochSeconds' in v ? (v as EpochTime).epochSeconds : v;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0 || seconds > 253402300799)
    throw new NotationError(`${what} is not an epoch time`);
  return new Date(seconds * 1000).toISOString();
}

/** The protected header map, renamed to the JWS members parseProtectedHeader checks. */
function asJwsHeader(header: unknown): Record<string, unknown> {
  if (!(header instanceof Map)) throw new NotationError('protected header is not a CBOR map');
  const fields = header as Map<unknown, unknown>;
  const out: Record<string, unknown> = {};
  const alg = fields.get(HEADER_ALG);
  out['alg'] = ALGORITHMS.get(alg) ?? `COSE algorithm ${String(alg)}`;
  out['cty'] = fields.get(HEADER_CONTENT_TYPE);
  const crit = fields.get(HEADER_CRIT);
  // Integer labels in crit name COSE headers pald does not process: refused like unknown names.
  out['crit'] = Array.isArray(crit) ? crit.map((c) => (typeof c === 'string' ? c : `COSE header ${String(c)}`)) : crit;
  for (const [key, value] of fields) {
    if (typeof key !== 'string') continue;
    if (key === 'io.cncf.notary.signingTime' || key === 'io.cncf.notary.expiry') out[key] = time(value, key);
    else out[key] = value;
  }
  return out;
}

/** Parse a COSE_Sign1 envelope; throws NotationError with the reason. */
export function parseCoseEnvelope(bytes: Buffer): ParsedEnvelope {
  if (bytes.length > MAX_ENVELOPE_BYTES) throw new NotationError(`envelope is larger than ${MAX_ENVELOPE_BYTES} bytes`);
  const top = cbor(bytes, 'envelope');
  const sign1 = typeof top === 'object' && top !== null && 'sign1' in top ? top.sign1 : top;
  if (!Array.isArray(sign1) || sign1.length !== 4) throw new NotationError('envelope is not a COSE_Sign1 array');
  const [protectedBstr, unprotected, payloadBstr, signatureBstr] = sign1 as unknown[];
  const protectedBytes = bytesOf(protectedBstr, 'protected header');
  const payloadBytes = bytesOf(payloadBstr, 'payload (detached payloads are not Notation)');
  const signature = bytesOf(signatureBstr, 'signature');
  if (signature.length === 0) throw new NotationError('signature is empty');
  const headerFields = parseProtectedHeader(asJwsHeader(cbor(protectedBytes, 'protected header')));
  if (!(unprotected instanceof Map)) throw new NotationError('unprotected header is not a CBOR map');
  const x5chain = (unprotected as Map<unknown, unknown>).get(HEADER_X5CHAIN);
  const chain = x5chain instanceof Uint8Array ? [x5chain] : x5chain;
  if (!Array.isArray(chain) || chain.length === 0 || chain.length > MAX_CHAIN)
    throw new NotationError(`x5chain is not a list of 1 to ${MAX_CHAIN} certificates`);
  const certificates = chain.map((c, i) => bytesOf(c, `x5chain[${i}]`));
  // RFC 9052 §4.4: Sig_structure = ["Signature1", protected, external_aad (empty), payload].
  const signingInput = Buffer.from(encode(['Signature1', protectedBytes, new Uint8Array(0), payloadBytes]));
  return {
    ...headerFields,
    format: 'cose',
    signingInput,
    signature,
    certificates,
    target: parsePayload(parseJson(payloadBytes, 'payload')),
  };
}
