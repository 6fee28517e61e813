// Fuzzing the manifest editor of `pal seal` (src/store/edit.ts); see test/fuzz/targets/manifest-edit.ts.
import { fuzzTest } from './fuzz-test.js';

fuzzTest('manifest-edit');
