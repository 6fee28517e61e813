// Fuzzing admin socket requests (src/daemon/admin-protocol.ts); see test/fuzz/targets/admin.ts.
import { fuzzTest } from './fuzz-test.js';

fuzzTest('admin');
