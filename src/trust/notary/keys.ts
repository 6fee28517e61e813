// TUF public keys as Notary writes them, their ids, and signature checks with node:crypto.
// Formats (measured against the real notary 0.7 server, see shared/notes/notary.md):
//   ecdsa      keyval.public = base64(DER SPKI)          method "ecdsa": raw r‖s over SHA-256
//   ecdsa-x509 keyval.public = base64(PEM certificate)  method "ecdsa"
//   ed25519    keyval.public = base64(raw 32 bytes)     method "eddsa"
//   rsa-x509   keyval.public = base64(PEM certificate)  method "rsapss" (SHA-256, salt 32) or "rsapkcs1v15"
//   rsa        keyval.public = base64(DER SPKI)
import { createHash, createPublicKey, verify, constants, X509Certificate, type KeyObject } from 'node:crypto';
import { canonicalJsonBytes } from './canonical-json.js';
import { errorMessage } from '../../shared/error-message.js';

export class KeyError extends Error {}

export interface TufPublicKey {
  readonly keytype: string;
  /** keyval.public exactly as listed (base64 text). */
  readonly public: string;
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function idOf(keytype: string, publicB64: string): string {
  return sha256Hex(canonicalJsonBytes({ keytype, keyval: { private: null, public: publicB64 } }));
}

/** The id TUF lists a key under: sha256 of its canonical JSON form (certificate id for x509 keys). */
export function keyId(key: TufPublicKey): string {
  return idOf(key.keytype, key.public);
}

function isX509(keytype: string): boolean {
  return keytype === 'ecdsa-x509' || keytype === 'rsa-x509';
}

function certificateOf(key: TufPublicKey): X509Certificate {
  try {
    return new X509Certificate(Buffer.from(key.public, 'base64'));
  } catch (e) {
    throw new KeyError(`${key.keytype} key does not hold a readable certificate: ${(e as Error).message}`);
  }
}

/**
 * The id `notary key list` prints: the key's id with the certificate replaced by its bare public key
 * (`ecdsa`/`rsa` over base64 DER SPKI). It depends only on the key, so it survives a re-issued cert.
 * For non-certificate keys it is the ordinary key id.
 */
export function canonicalKeyId(key: TufPublicKey): string {
  if (!isX509(key.keytype)) return keyId(key);
  let spki: Buffer;
  try {
    spki = certificateOf(key).publicKey.export({ type: 'spki', format: 'der' });
  } catch (err) {
    if (err instanceof KeyError) throw err;
    // A certificate that parses but whose key does not decode: OpenSSL's plain Error, made ours.
    throw new KeyError(`certificate public key does not decode: ${errorMessage(err)}`);
  }
  return idOf(key.keytype === 'ecdsa-x509' ? 'ecdsa' : 'rsa', spki.toString('base64'));
}

/** Validity window and common name of a certificate-carrying key; undefined for bare keys. */
export function certificateInfo(
  key: TufPublicKey,
): { notBefore: number; notAfter: number; commonName: string | undefined } | undefined {
  if (!isX509(key.keytype)) return undefined;
  const cert = certificateOf(key);
  const cn = cert.subject
    .split('\n')
    .find((l) => l.startsWith('CN='))
    ?.slice(3);
  return { notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo), commonName: cn };
}

function publicKeyObject(key: TufPublicKey): KeyObject {
  const raw = Buffer.from(key.public, 'base64');
  try {
    switch (key.keytype) {
      case 'ecdsa':
      case 'rsa':
        return createPublicKey({ key: raw, format: 'der', type: 'spki' });
      case 'ed25519':
        if (raw.length !== 32) throw new KeyError(`ed25519 key must be 32 bytes, got ${raw.length}`);
        return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
      case 'ecdsa-x509':
      case 'rsa-x509':
        return certificateOf(key).publicKey;
      default:
        throw new KeyError(`unsupported key type "${key.keytype}"`);
    }
  } catch (e) {
    if (e instanceof KeyError) throw e;
    throw new KeyError(`unreadable ${key.keytype} public key: ${(e as Error).message}`);
  }
}

const EC_FIELD_BYTES: Record<string, number> = { prime256v1: 32, secp384r1: 48, secp521r1: 66 };

/**
 * Does `sig` (raw bytes) by `key` with `method` cover `data`? Throws KeyError when the key or the
 * method/key combination is unusable; returns false for a signature that simply does not verify.
 */
export function verifySignature(key: TufPublicKey, method: string, sig: Buffer, data: Buffer): boolean {
  const pub = publicKeyObject(key);
  const m = method.toLowerCase();
  const kind = pub.asymmetricKeyType;
  if (m === 'ecdsa') {
    if (kind !== 'ec') throw new KeyError(`method ecdsa used with a ${key.keytype} key`);
    // Go's verifier hashes with SHA-256 whatever the curve and wants r‖s of exactly 2× the field size.
    const field = EC_FIELD_BYTES[pub.asymmetricKeyDetails?.namedCurve ?? ''];
    if (field === undefined) throw new KeyError(`unsupported EC curve ${pub.asymmetricKeyDetails?.namedCurve ?? '?'}`);
    if (sig.length !== 2 * field) return false;
    return verify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, sig);
  }
  if (m === 'eddsa') {
    if (kind !== 'ed25519') throw new KeyError(`method eddsa used with a ${key.keytype} key`);
    if (sig.length !== 64) return false;
    return verify(null, data, pub, sig);
  }
  if (m === 'rsapss' || m === 'pycrypto-pkcs#1 pss') {
    if (kind !== 'rsa') throw new KeyError(`method ${m} used with a ${key.keytype} key`);
    return verify('sha256', data, { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig);
  }
  if (m === 'rsapkcs1v15') {
    if (kind !== 'rsa') throw new KeyError(`method ${m} used with a ${key.keytype} key`);
    return verify('sha256', data, { key: pub, padding: constants.RSA_PKCS1_PADDING }, sig);
  }
  throw new KeyError(`unsupported signature method "${method}"`);
}
