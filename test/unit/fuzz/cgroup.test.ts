// Fuzzing /proc/<pid>/cgroup lines (src/identity/cgroup.ts); see test/fuzz/targets/cgroup.ts.
import { fuzzTest } from './fuzz-test.js';

fuzzTest('cgroup');
