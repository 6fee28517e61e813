// Pinned cosign public keys (PEM, as `cosign generate-key-pair` writes cosign.pub) and how cosign
// signs with each kind: ECDSA with the curve's hash (DER signatures), RSA PKCS#1 v1.5 SHA-256,
// Ed25519 over the message itself.
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { FileSafetyError, fileSafetyProblemSync, readRegularFileSync } from '../../store/index.js';

export interface PinnedKey {
  /** The file it came from (for reasons). */
  readonly file: string;
  /** sha256 of the SubjectPublicKeyInfo, hex, first 16 chars (for reasons). */
  readonly id: string;
  readonly key: KeyObject;
  /** Digest cosign uses with this key; null for Ed25519 (pure). */
  readonly hash: 'sha256' | 'sha384' | 'sha512' | null;
}

const CURVE_HASH: Record<string, PinnedKey['hash']> = {
  prime256v1: 'sha256',
  secp384r1: 'sha384',
  secp521r1: 'sha512',
};

export function pinnedKey(file: string, pem: string | Buffer): PinnedKey {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new Error(`${file}: not a PEM public key`);
  }
  let hash: PinnedKey['hash'] | undefined;
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
    hash = CURVE_HASH[curve];
    if (hash === undefined) throw new Error(`${file}: ECDSA curve ${curve} is not one cosign uses`);
  } else if (key.asymmetricKeyType === 'rsa') {
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048)
      throw new Error(`${file}: RSA key shorter than 2048 bits`);
    hash = 'sha256';
  } else if (key.asymmetricKeyType === 'ed25519') {
    hash = null;
  } else {
    throw new Error(`${file}: ${key.asymmetricKeyType ?? 'unknown'} keys are not supported (ECDSA, RSA, Ed25519)`);
  }
  const spki = key.export({ type: 'spki', format: 'der' });
  return { file, id: createHash('sha256').update(spki).digest('hex').slice(0, 16), key, hash: hash! };
}

/** Reads and checks the policy's key files (File safety: a key someone else can swap is no pin). */
export function loadPinnedKeys(files: readonly string[], opts: { skipFileSafety?: boolean } = {}): PinnedKey[] {
  return files.map((file) => {
    if (opts.skipFileSafety !== true) {
      const problem = fileSafetyProblemSync(file, { kind: 'trust store' });
      if (problem !== undefined) throw new FileSafetyError(problem, file);
    }
    return pinnedKey(file, readRegularFileSync(file, 64 * 1024).bytes);
  });
}

/** A cosign signature over `message` by this key (never throws: malformed signatures are false). */
export function verifyWithKey(k: PinnedKey, message: Buffer, signature: Buffer): boolean {
  try {
    return verify(k.hash, message, k.key, signature);
  } catch {
    return false;
  }
}
