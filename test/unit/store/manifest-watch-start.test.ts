// The manifest store's watches, at start and when a directory is replaced: a change made between
// the first reload's reads and the watches being set made no event, so it was missed until the
// next one; and a ciphertext directory swapped in by a rename kept its watch on the old directory,
// so a ciphertext rotated in place there later was never seen. Real files and fs.watch.
import test from 'ava';
import { mkdirSync, renameSync, watch, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ManifestStore } from '../../../src/store/index.js';
import type { WatchFunction } from '../../../src/store/dir-watch.js';
import { manifestDir } from '../../helpers/yaml-fixtures.js';
import { waitFor } from '../../helpers/wait.js';

const MANIFEST = 'secrets:\n  s:\n    file: data/s.pgp\n    labels: [a]\n';

async function versionChanges(store: ManifestStore, from: string, what: string): Promise<void> {
  await waitFor(what, () => store.current().entries.get('s')?.version !== from, { timeoutMs: 10_000, intervalMs: 10 });
}

test('a ciphertext rotated after the first reload but before the watches were set is picked up', async (t) => {
  const dir = await manifestDir({});
  mkdirSync(path.join(dir, 'data'), { mode: 0o755 });
  const ciphertext = path.join(dir, 'data', 's.pgp');
  writeFileSync(ciphertext, 'v1', { mode: 0o644 });
  const file = path.join(dir, 'secrets.yaml');
  await writeFile(file, MANIFEST);
  let rotated = false;
  // The gap, hit every time: the rotation happens right before the first watch is set.
  const rotateFirst: WatchFunction = (d, listener) => {
    if (!rotated) {
      rotated = true;
      writeFileSync(ciphertext, 'v2 rotated in the gap');
    }
    return watch(d, { persistent: true }, listener);
  };
  const store = await ManifestStore.open(file, { debounceMs: 20, watchDirectory: rotateFirst });
  t.teardown(() => store.close());
  t.true(rotated);
  const v1 = store.current().entries.get('s')!.version;
  await versionChanges(store, v1, 'the rotation made in the gap');
  t.pass();
});

test('a ciphertext directory swapped in by a rename stays watched: a later rotation in it is seen', async (t) => {
  const dir = await manifestDir({});
  mkdirSync(path.join(dir, 'data'), { mode: 0o755 });
  writeFileSync(path.join(dir, 'data', 's.pgp'), 'v1', { mode: 0o644 });
  const file = path.join(dir, 'secrets.yaml');
  await writeFile(file, MANIFEST);
  const store = await ManifestStore.open(file, { debounceMs: 20 });
  t.teardown(() => store.close());
  const v1 = store.current().entries.get('s')!.version;
  // The swap: a new directory with the next ciphertext, renamed over the old one.
  mkdirSync(path.join(dir, 'data.new'), { mode: 0o755 });
  writeFileSync(path.join(dir, 'data.new', 's.pgp'), 'v2', { mode: 0o644 });
  renameSync(path.join(dir, 'data'), path.join(dir, 'data.old'));
  renameSync(path.join(dir, 'data.new'), path.join(dir, 'data'));
  await versionChanges(store, v1, 'the swapped-in ciphertext');
  // Rotated in place in the new directory: only a watch on it sees this.
  const v2 = store.current().entries.get('s')!.version;
  writeFileSync(path.join(dir, 'data', 's.pgp'), 'v3 rotated in place');
  await versionChanges(store, v2, 'the rotation in the swapped-in directory');
  t.pass();
});

test('the look again after the watches were set that finds nothing new is no change', async (t) => {
  const dir = await manifestDir({});
  const file = path.join(dir, 'secrets.yaml');
  await writeFile(file, 'secrets:\n  s:\n    file: data/missing.pgp\n    labels: [a]\n');
  const logged: string[] = [];
  const store = await ManifestStore.open(file, { debounceMs: 20, log: (m) => logged.push(m) });
  t.teardown(() => store.close());
  let changes = 0;
  store.onChange(() => changes++);
  t.is(store.loads(), 1);
  await waitFor('the look again to finish', () => store.loads() === 2, { timeoutMs: 10_000, intervalMs: 5 });
  t.is(store.current().generation, 1, 'no new generation');
  t.is(changes, 0, 'no listener told');
  t.is(logged.filter((l) => l.includes('missing.pgp')).length, 1, 'its problem logged once, not twice');
});
