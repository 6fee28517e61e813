import test from 'ava';

import { failureReason } from '../../../test/bench/harness.js';

test("a suite's failure names the interrupt once the run is aborted, else the error itself", (t) => {
  const controller = new AbortController();
  // The docker CLI killed by the same SIGTERM printed nothing: the parse error is a symptom.
  const symptom = new SyntaxError('Unexpected end of JSON input');
  t.is(failureReason(symptom, controller.signal), 'Unexpected end of JSON input');
  t.is(failureReason('a string', controller.signal), 'a string');
  controller.abort(new Error('interrupted by SIGTERM'));
  t.is(failureReason(symptom, controller.signal), 'interrupted by SIGTERM');
});
