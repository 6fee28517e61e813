// Fuzzing Red October ciphertexts read before decryption (src/crypto/redoctober/envelope.ts); see
// test/fuzz/targets/redoctober.ts.
import { fuzzTest } from './fuzz-test.js';

fuzzTest('redoctober');
