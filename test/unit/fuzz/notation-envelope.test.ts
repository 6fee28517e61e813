// Fuzzing Notation signature envelopes (src/trust/notation); see test/fuzz/targets/notation-envelope.ts.
import { fuzzTest } from './fuzz-test.js';

fuzzTest('notation-envelope');
