// Fuzzing Docker event lines (src/identity/docker-runtime.ts parseEvent); see test/fuzz/targets/docker-event.ts.
import { fuzzTest } from './fuzz-test.js';

fuzzTest('docker-event');
