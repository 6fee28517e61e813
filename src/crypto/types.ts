// Backends turn a ciphertext into plaintext held in secure memory.
import type { SecureBuffer } from '../native/types.js';
import type { BackendName, ManifestEntry } from '../store/index.js';

export interface OpenedSecret {
  /** Owned by whoever holds it; the cache owns what get() returns (clone() it to hand out). */
  readonly plaintext: SecureBuffer;
  /** Name sealed inside the integrity-protected payload. */
  readonly sealedName: string;
  /** Labels sealed inside the integrity-protected payload. */
  readonly sealedLabels: readonly string[];
}

/** A sealed name and labels, as a backend reads them (before or after decryption). */
export interface SealedHeader {
  readonly sealedName: string;
  readonly sealedLabels: readonly string[];
}

export interface Backend {
  readonly name: BackendName;
  /**
   * The name and labels a ciphertext carries in clear (Red October), read *before* decrypting so
   * that pald can authorise the caller first: a Red October decrypt spends delegation uses.
   * Absent for openpgp (its payload is inside the encryption). Throws SecretError('corrupt').
   */
  sealedBeforeDecrypt?(entry: ManifestEntry, ciphertext: Uint8Array): SealedHeader;
  /** Throws SecretError. */
  decrypt(entry: ManifestEntry, ciphertext: Uint8Array): Promise<OpenedSecret>;
}

/** Copies bytes into secure memory and zeroes the source (the native secureBufferFrom). */
export type SecureAllocator = (bytes: Uint8Array) => SecureBuffer;

/**
 * - corrupt, unavailable: EIO. - denied-by-backend (e.g. no Red October delegation), name-mismatch,
 *   denied-before-decrypt (the caller lacks a label the ciphertext carries in clear): EACCES.
 */
export type SecretErrorCode =
  'corrupt' | 'unavailable' | 'denied-by-backend' | 'name-mismatch' | 'denied-before-decrypt';

/** Why a secret could not be opened. Messages never contain plaintext. */
export class SecretError extends Error {
  override readonly name = 'SecretError';
  constructor(
    readonly code: SecretErrorCode,
    message: string,
  ) {
    super(message);
  }
}
