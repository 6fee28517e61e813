// Fuzzing sealed payload headers (src/crypto/payload.ts); see test/fuzz/targets/payload.ts.
import { fuzzTest } from './fuzz-test.js';

fuzzTest('payload');
