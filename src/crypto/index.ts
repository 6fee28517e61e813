// Decryption backends and the plaintext cache.
export type { Backend, OpenedSecret, SecretErrorCode, SecureAllocator } from './types.js';
export { SecretError } from './types.js';
export { OpenPgpBackend, sealOpenPgp } from './openpgp.js';
export type { KeyProblem, OpenPgpBackendOptions } from './openpgp.js';
export { SecretCache } from './cache.js';
export type { AuthoriseSealed, SecretCacheOptions, SecretCacheStats } from './cache.js';
export { encodePayload, decodePayload } from './payload.js';
export type { PayloadHeader } from './payload.js';
export type { SealedHeader } from './types.js';
export { RedOctoberBackend, readCa, maxRoCiphertextBytes } from './redoctober/backend.js';
export type { RedOctoberBackendOptions, RoOutcome, RoStatus } from './redoctober/backend.js';
export { sealRedOctober, RO_MINIMUM } from './redoctober/seal.js';
export { palRoSizeBound } from './redoctober/envelope.js';
