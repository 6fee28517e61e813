// Fuzzing pald.yaml (src/config); see test/fuzz/targets/config.ts.
import { fuzzTest } from './fuzz-test.js';

fuzzTest('config');
