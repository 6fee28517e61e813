// Defects the fuzz harness (test/fuzz, `npm run fuzz`) found beyond issue 21, each pinned with its
// reproducer: hostile input is an error of ours with a reason, never a crash or seconds of CPU.
import test from 'ava';
import { parseAdminRequest } from '../../../src/daemon/admin-protocol.js';

test('admin: a deeply nested "op" within the request limit is refused with a reason, not a RangeError', (t) => {
  const line = '{"op":' + '['.repeat(32000) + ']'.repeat(32000) + '}';
  t.true(line.length < 64 * 1024);
  const r = parseAdminRequest(line);
  t.deepEqual(r, { error: 'unknown op (op must be a string, got an array)' });
  t.deepEqual(parseAdminRequest(JSON.stringify({ op: 'x'.repeat(1000) })), {
    error: `unknown op ${JSON.stringify('x'.repeat(64))}`,
  });
});
