// A backend of our own interface whose "ciphertext" is the plaintext itself, for tests of the
// plaintext cache where what matters is the memory and the bookkeeping, not the cryptography.
import type { Backend } from '../../src/crypto/index.js';
import type { FakeSecureMemory } from './fake-secure.js';

export function plainBackend(mem: FakeSecureMemory): Backend {
  return {
    name: 'openpgp',
    async decrypt(entry, ciphertext) {
      return { plaintext: mem.from(Uint8Array.from(ciphertext)), sealedName: entry.name, sealedLabels: entry.labels };
    },
  };
}
