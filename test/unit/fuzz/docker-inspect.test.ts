// Fuzzing Docker inspect answers from a fake endpoint on a unix socket (src/identity/docker-runtime.ts); see test/fuzz/targets/docker-inspect.ts.
import { fuzzTest } from './fuzz-test.js';

fuzzTest('docker-inspect');
