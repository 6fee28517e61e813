// Verify one Notation signature envelope against one policy: envelope format → signature by the
// leaf key (algorithm bound to the key, as Notation derives it) → chain to the trust store →
// trusted identity → expiry. The caller then binds the signed target to the image.
import { constants, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { algorithmForKey, verifyChain } from './chain.js';
import { identityMatches, type TrustedIdentity } from '../../shared/x509-identity.js';
import { JWS_MEDIA_TYPE, parseJwsEnvelope } from './jws.js';
import { parseCoseEnvelope } from './cose.js';
import { NotationError, type ParsedEnvelope, type VerifiedSignature } from './types.js';

export const COSE_MEDIA_TYPE = 'application/cose';

export interface VerifyOptions {
  /** DER certificates of the policy's trust store. */
  readonly trustStore: readonly Buffer[];
  readonly identities: readonly TrustedIdentity[];
  readonly now: number;
}

const HASH: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };

function signatureValid(env: ParsedEnvelope, key: KeyObject): boolean {
  const hash = HASH[env.alg.slice(2)]!;
  try {
    if (env.alg.startsWith('ES')) {
      // JWS and COSE ECDSA signatures are r‖s (RFC 7518 §3.4, RFC 9053 §2.1), not DER.
      return cryptoVerify(hash, env.signingInput, { key, dsaEncoding: 'ieee-p1363' }, env.signature);
    }
    // RFC 7518 §3.5 / RFC 8230: PSS with MGF1 of the same hash and a salt as long as the hash.
    const saltLength = Number(env.alg.slice(2)) / 8;
    return cryptoVerify(
      hash,
      env.signingInput,
      { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength },
      env.signature,
    );
  } catch {
    return false;
  }
}

/** Parse by media type: JWS (the `notation sign` default) or COSE. */
export function parseEnvelope(mediaType: string, bytes: Buffer): ParsedEnvelope {
  if (mediaType === JWS_MEDIA_TYPE) return parseJwsEnvelope(bytes);
  if (mediaType === COSE_MEDIA_TYPE) return parseCoseEnvelope(bytes);
  throw new NotationError(`signature envelope media type ${JSON.stringify(mediaType)} is not ${JWS_MEDIA_TYPE}`);
}

/** Verify an envelope; throws NotationError with the reason it is not trusted. */
export function verifyEnvelope(mediaType: string, bytes: Buffer, opts: VerifyOptions): VerifiedSignature {
  const env = parseEnvelope(mediaType, bytes);
  const chain = verifyChain(env.certificates, {
    signingTime: env.signingTime,
    now: opts.now,
    trustStore: opts.trustStore,
  });
  const leaf = chain[0]!;
  const expected = algorithmForKey(leaf.publicKey);
  if (expected !== env.alg)
    throw new NotationError(
      `signature algorithm ${env.alg} does not match the signing certificate's key (${expected ?? 'unsupported key'})`,
    );
  if (!signatureValid(env, leaf.publicKey))
    throw new NotationError(`signature does not verify with the key of "${leaf.subjectText}"`);
  if (!opts.identities.some((id) => identityMatches(id, leaf.subject)))
    throw new NotationError(`signer "${leaf.subjectText}" is not one of the policy's trusted identities`);
  if (env.expiry !== undefined && opts.now >= env.expiry)
    throw new NotationError(`signature expired at ${new Date(env.expiry).toISOString()}`);
  const validUntil = Math.min(env.expiry ?? Infinity, ...chain.map((c) => c.notAfter));
  return { target: env.target, signer: leaf.subjectText, validUntil };
}
