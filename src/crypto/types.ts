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

export interface Backend {
  readonly name: BackendName;
  /** Labels readable before decryption (Red October carries them in clear); undefined for openpgp. */
  labelsBeforeDecrypt?(ciphertext: Uint8Array): readonly string[] | undefined;
  /** Throws SecretError. */
  decrypt(entry: ManifestEntry, ciphertext: Uint8Array): Promise<OpenedSecret>;
}

/** Copies bytes into secure memory and zeroes the source (the native secureBufferFrom). */
export type SecureAllocator = (bytes: Uint8Array) => SecureBuffer;

export type SecretErrorCode = 'corrupt' | 'unavailable' | 'denied-by-backend' | 'name-mismatch';

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
