// Fuzzing the whole TUF chain with re-signed mutations (src/trust/notary/collection.ts); see test/fuzz/targets/tuf-chain.ts.
import { fuzzTest } from './fuzz-test.js';

fuzzTest('tuf-chain');
