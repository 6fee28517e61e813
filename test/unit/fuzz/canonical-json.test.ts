// Fuzzing canonical JSON of TUF metadata (src/trust/notary/canonical-json.ts); see test/fuzz/targets/canonical-json.ts.
import { fuzzTest } from './fuzz-test.js';

fuzzTest('canonical-json');
