// Defects the fuzz harness (test/fuzz, `npm run fuzz`) found beyond issue 21, each pinned with its
// reproducer: hostile input is an error of ours with a reason, never a crash or seconds of CPU.
import test from 'ava';
import { upsertManifestEntryText } from '../../../src/store/index.js';

test("manifest editor: an alias to no anchor is our error with a reason, the library's never escapes", (t) => {
  const err = t.throws(() =>
    upsertManifestEntryText('secrets:\n  a: *b\n', { name: 's', file: 's.pgp', labels: ['a'], mode: 0o400 }),
  );
  t.is(err?.constructor, Error);
  t.regex(err!.message, /^the manifest cannot be rewritten: .*alias/i);
});
