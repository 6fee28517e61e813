// Fuzzing TUF metadata files and keys (src/trust/notary/metadata.ts, keys.ts); see test/fuzz/targets/tuf-metadata.ts.
import { fuzzTest } from './fuzz-test.js';

fuzzTest('tuf-metadata');
