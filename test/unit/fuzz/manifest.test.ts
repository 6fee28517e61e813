// Fuzzing secrets.yaml (src/store/manifest.ts); see test/fuzz/targets/manifest.ts.
import { fuzzTest } from './fuzz-test.js';

fuzzTest('manifest');
