// The manifest watcher's cost does not grow with the number of secrets (issue 14, memory): one
// inotify watch per directory, not one per ciphertext; and a ciphertext that appears later in a
// directory that did not exist yet is still picked up.
import test from 'ava';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ManifestStore, type ManifestSnapshot } from '../../../src/store/index.js';
import { manifestDir } from '../../helpers/yaml-fixtures.js';

/** inotify watches this process holds now (all threads: ava's other test files too). */
async function inotifyWatches(): Promise<number> {
  let n = 0;
  for (const fd of await readdir('/proc/self/fdinfo')) {
    const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8').catch(() => '');
    n += (info.match(/^inotify wd:/gm) ?? []).length;
  }
  return n;
}

function nextChange(store: ManifestStore, pred: (s: ManifestSnapshot) => boolean): Promise<ManifestSnapshot> {
  return new Promise((resolve) => store.onChange((snap) => pred(snap) && resolve(snap)));
}

test('a manifest of 300 secrets in one directory costs a handful of inotify watches, not 300', async (t) => {
  const files: Record<string, string> = {};
  let manifest = 'secrets:\n';
  for (let i = 0; i < 300; i++) {
    files[`s${i}.pgp`] = `ciphertext ${i}`;
    manifest += `  s${i}:\n    file: s${i}.pgp\n    labels: [a]\n`;
  }
  const dir = await manifestDir(files);
  const file = path.join(dir, 'secrets.yaml');
  await writeFile(file, manifest);
  const before = await inotifyWatches();
  const store = await ManifestStore.open(file, { watch: true, debounceMs: 20 });
  t.teardown(() => store.close());
  t.is(store.current().entries.size, 300);
  const added = (await inotifyWatches()) - before;
  t.true(added < 50, `${added} inotify watches for 300 ciphertexts in one directory`);

  // Still watched: a rotated ciphertext (written in place) is picked up.
  const v = store.current().entries.get('s150')!.version;
  const rotated = nextChange(store, (s) => s.entries.get('s150')?.version !== v);
  await writeFile(path.join(dir, 's150.pgp'), 'rotated');
  t.not((await rotated).entries.get('s150')!.version, v);
});

test('a ciphertext that appears later in a directory that did not exist yet is picked up', async (t) => {
  const dir = await manifestDir({});
  const file = path.join(dir, 'secrets.yaml');
  await writeFile(file, 'secrets:\n  s:\n    file: sub/deeper/later.pgp\n    labels: [a]\n');
  const store = await ManifestStore.open(file, { watch: true, debounceMs: 20 });
  t.teardown(() => store.close());
  t.regex(store.current().problems[0]!.message, /not found/);
  const appeared = nextChange(store, (s) => s.entries.has('s'));
  await mkdir(path.join(dir, 'sub', 'deeper'), { recursive: true, mode: 0o755 });
  await writeFile(path.join(dir, 'sub', 'deeper', 'later.pgp'), 'ct', { mode: 0o644 });
  t.deepEqual((await appeared).problems, []);
});
