// Fuzzing OpenPGP ciphertexts, binary and armored (src/crypto/openpgp.ts); see test/fuzz/targets/openpgp.ts.
import { fuzzTest } from './fuzz-test.js';

fuzzTest('openpgp');
