// A manifest entry without `size:` is served with a size never below its plaintext's until the
// first decrypt (src/fs/secret-size.ts). The store supplies the one bound it can read without
// decrypting: a Red October ciphertext's length. An OpenPGP one may be compressed: no bound.

import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseManifest } from '../../../src/store/index.js';

let dir = '';
test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pal-size-bound-'));
});
test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('sizeBound: the ciphertext length of a Red October entry without size:, nothing otherwise', async (t) => {
  const files = { 'a.ro': 'r'.repeat(700), 'b.ro': 'r'.repeat(300), 'c.pgp': 'p'.repeat(500) };
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content);
  const file = path.join(dir, 'secrets.yaml');
  await writeFile(
    file,
    `secrets:
  ro-unsized:
    ro: a.ro
    labels: [a]
  ro-sized:
    ro: b.ro
    labels: [a]
    size: 42
  pgp-unsized:
    file: c.pgp
    labels: [a]
`,
  );
  const r = await parseManifest(file, await readFile(file, 'utf8'));
  t.true(r.ok);
  if (!r.ok) return;
  t.deepEqual(r.problems, []);
  t.is(r.entries.get('ro-unsized')!.sizeBound, 700);
  t.is(r.entries.get('ro-unsized')!.size, undefined);
  t.is(r.entries.get('ro-sized')!.sizeBound, undefined, 'size: is exact (pal seal wrote it)');
  t.is(r.entries.get('ro-sized')!.size, 42);
  t.is(r.entries.get('pgp-unsized')!.sizeBound, undefined, 'a compressed OpenPGP message may be longer inside');
});
