// A large manifest is parsed in a worker thread: same answer as in place, and a manifest that
// would cost too much memory or time becomes a problem of that manifest, not a stalled or dead pald.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ManifestStore, parseManifest } from '../../../src/store/index.js';
import { parseManifestOffThread } from '../../../src/store/manifest-off-thread.js';

const dirs: string[] = [];
test.after.always(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A manifest of `count` entries; every tenth names a ciphertext that exists, the rest are problems. */
async function bigManifest(count: number): Promise<{ file: string; text: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pal-offthread-'));
  dirs.push(dir);
  let text = 'secrets:\n';
  for (let i = 0; i < count; i++) {
    if (i % 10 === 0) await writeFile(path.join(dir, `s${i}.pgp`), `ciphertext ${i}`, { mode: 0o600 });
    text += `  secret-${i}:\n    file: s${i}.pgp\n    labels: [team-${i % 7}, prod]\n    mode: "0400"\n`;
  }
  const file = path.join(dir, 'secrets.yaml');
  await writeFile(file, text, { mode: 0o600 });
  return { file, text };
}

test('a manifest parsed in a worker gives exactly the in-place answer', async (t) => {
  const { file, text } = await bigManifest(1500);
  t.true(Buffer.byteLength(text) > 64 * 1024, 'large enough to take the worker path by default');
  const inPlace = await parseManifest(file, text);
  const offThread = await parseManifestOffThread(file, text);
  t.true(offThread.ok);
  t.deepEqual(offThread, inPlace);
  if (offThread.ok) {
    t.is(offThread.entries.size, 150);
    t.is(offThread.problems.length, 1350);
  }
});

test('a manifest whose parse outgrows the worker heap is a problem, not a crash', async (t) => {
  const { file, text } = await bigManifest(4000);
  const parsed = await parseManifestOffThread(file, text, { maxHeapMb: 2 });
  t.false(parsed.ok);
  t.regex(parsed.problems[0]!.message, /needed more than 2 MiB of memory/);
});

test('a manifest parse past the deadline is a problem and the worker is stopped', async (t) => {
  const { file, text } = await bigManifest(4000);
  const parsed = await parseManifestOffThread(file, text, { timeoutMs: 1 });
  t.false(parsed.ok);
  t.regex(parsed.problems[0]!.message, /took longer than 1 ms/);
});

test('the store loads a large manifest through the worker', async (t) => {
  const { file } = await bigManifest(1500);
  const store = await ManifestStore.open(file, { watch: false });
  t.teardown(() => store.close());
  const snap = store.current();
  t.is(snap.entries.size, 150);
  t.true(snap.entries.has('secret-1490'));
});
