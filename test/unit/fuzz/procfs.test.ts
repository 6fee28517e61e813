// Fuzzing /proc/<pid>/stat and status (src/identity/procfs.ts); see test/fuzz/targets/procfs.ts.
import { fuzzTest } from './fuzz-test.js';

fuzzTest('procfs');
