// A watched manifest edit that the parser refuses (issue 21 item 1): the last good manifest keeps
// serving and no rejection is left unhandled (ava fails a test file on an unhandled rejection).
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ManifestStore, type ManifestSnapshot } from '../../../src/store/index.js';
import { manifestDir } from '../../helpers/yaml-fixtures.js';

test('21.1: a watched manifest edit that the parser refuses keeps the last good manifest serving', async (t) => {
  const dir = await manifestDir({ 'ok.pgp': 'ciphertext' });
  const file = path.join(dir, 'secrets.yaml');
  await writeFile(file, 'secrets:\n  db:\n    file: ok.pgp\n    labels: [a]\n');
  const store = await ManifestStore.open(file, { debounceMs: 10 });
  t.teardown(() => store.close());
  t.is(store.current().entries.size, 1);
  const reloaded = new Promise<ManifestSnapshot>((resolve) => store.onChange((snap) => resolve(snap)));
  // Fail at once, with the reason, rather than wait for a reload that rejected unseen.
  let onUnhandled: ((reason: unknown) => void) | undefined;
  const unhandled = new Promise<never>((_resolve, reject) => {
    onUnhandled = (reason: unknown) => reject(new Error(`unhandled rejection: ${String(reason)}`));
    process.on('unhandledRejection', onUnhandled);
  });
  t.teardown(() => process.off('unhandledRejection', onUnhandled!));
  await writeFile(file, 'secrets:\n  ' + '- '.repeat(3000) + 'x:\n  y: 1\n');
  const snap = await Promise.race([reloaded, unhandled]);
  t.deepEqual([...snap.entries.keys()], ['db'], 'the last good manifest is still served');
  t.regex(snap.problems[0]?.message ?? '', /nesting deeper than 64 levels.*serving the last good version/);
});
