import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { run as keygen } from '../../../src/cli/keygen.js';
import { run as seal } from '../../../src/cli/seal.js';
import { OpenPgpBackend } from '../../../src/crypto/index.js';
import { ManifestStore } from '../../../src/store/index.js';
import { FakeSecureMemory } from '../../helpers/fake-secure.js';

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

async function cli(
  fn: typeof seal,
  argv: string[],
  stdin?: Uint8Array,
): Promise<{ code: number; out: string; err: string }> {
  const out = capture();
  const err = capture();
  const code = await fn(argv, {
    stdout: out.stream,
    stderr: err.stream,
    stdin: Readable.from(stdin ? [Buffer.from(stdin)] : []),
  });
  return { code, out: out.text(), err: err.text() };
}

let dir: string;
let keys: string;
test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pal-cli-'));
  keys = path.join(dir, 'keys');
  const r = await cli(keygen, ['--out', keys, '--name', 'host1']);
  if (r.code !== 0) throw new Error(r.err);
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('keygen writes a 0600 private key and a public key; refuses to overwrite', async (t) => {
  t.is((await stat(path.join(keys, 'host1.key'))).mode & 0o777, 0o600);
  t.regex(await readFile(path.join(keys, 'host1.key'), 'utf8'), /BEGIN PGP PRIVATE KEY BLOCK/);
  t.regex(await readFile(path.join(keys, 'host1.pub.asc'), 'utf8'), /BEGIN PGP PUBLIC KEY BLOCK/);
  const again = await cli(keygen, ['--out', keys, '--name', 'host1']);
  t.is(again.code, 1);
  t.regex(again.err, /already exists/);
  t.is((await cli(keygen, [])).code, 2);
  t.is((await cli(keygen, ['--out', keys, '--name', '../evil'])).code, 2);
  t.is((await cli(keygen, ['--out', keys, '--bogus'])).code, 2);
});

test('seal → manifest entry → pald backend decrypts the exact bytes (stdin and --in, binary)', async (t) => {
  const mdir = path.join(dir, 'etc1');
  const manifest = path.join(mdir, 'secrets.yaml');
  const pub = path.join(keys, 'host1.pub.asc');
  const r1 = await cli(
    seal,
    ['--name', 'db-password', '--label', 'prod', '--label', 'billing', '--key', pub, '--manifest', manifest],
    Buffer.from('hunter2'),
  );
  t.is(r1.code, 0, r1.err);
  t.false(r1.out.includes('hunter2'));
  const blob = randomBytes(1024 * 1024);
  await writeFile(path.join(dir, 'blob.in'), blob);
  const r2 = await cli(seal, [
    '--name',
    'blob',
    '--label',
    'prod',
    '--key',
    pub,
    '--manifest',
    manifest,
    '--in',
    path.join(dir, 'blob.in'),
    '--mode',
    '0440',
  ]);
  t.is(r2.code, 0, r2.err);

  const store = await ManifestStore.open(manifest, { watch: false });
  t.teardown(() => store.close());
  const snap = store.current();
  t.deepEqual(snap.problems, []);
  const db = snap.entries.get('db-password')!;
  t.deepEqual(db.labels, ['prod', 'billing']);
  t.is(db.mode, 0o400);
  t.is(db.size, 7);
  t.is(db.ciphertextPath, path.join(mdir, 'db-password.pgp'));
  t.is(snap.entries.get('blob')!.mode, 0o440);

  const backend = await OpenPgpBackend.load(keys, { allocSecure: new FakeSecureMemory().from });
  const s = await backend.decrypt(db, await readFile(db.ciphertextPath));
  t.is(s.plaintext.read().toString(), 'hunter2');
  t.deepEqual(s.sealedLabels, ['prod', 'billing']);
  const b = snap.entries.get('blob')!;
  t.true((await backend.decrypt(b, await readFile(b.ciphertextPath))).plaintext.read().equals(blob));
  const ct = await readFile(db.ciphertextPath);
  t.false(ct.includes(Buffer.from('hunter2')), 'no plaintext in the ciphertext file');
});

test('seal replaces an entry in place, keeping other entries and comments; no temp files left', async (t) => {
  const mdir = path.join(dir, 'etc2');
  const manifest = path.join(mdir, 'secrets.yaml');
  const pub = path.join(keys, 'host1.pub.asc');
  await (await import('node:fs/promises')).mkdir(mdir);
  await writeFile(path.join(mdir, 'other.pgp'), 'x');
  await writeFile(
    manifest,
    `# pal manifest — managed by hand and by pal seal
secrets:
  # the payments team's key
  other:
    file: other.pgp   # sealed elsewhere
    labels: [billing]
  api-token:
    ro: api-token.ro  # will become OpenPGP
    labels: [old]
`,
    { mode: 0o640 },
  );
  const r = await cli(
    seal,
    ['--name', 'api-token', '--label', 'new', '--key', pub, '--manifest', manifest],
    Buffer.from('tok'),
  );
  t.is(r.code, 0, r.err);
  const text = await readFile(manifest, 'utf8');
  t.regex(text, /^# pal manifest — managed by hand and by pal seal/);
  t.regex(text, /# the payments team's key/);
  t.regex(text, /file: other\.pgp +# sealed elsewhere/);
  t.regex(text, /labels: \[billing\]/, 'untouched entries keep their formatting');
  t.regex(text, /api-token:\n {4}labels: \[new\]\n {4}file: api-token\.pgp\n {4}mode: "0400"\n {4}size: 3\n/);
  t.notRegex(text, /ro: api-token\.ro/);
  t.regex(text, /mode: "0400"/);
  t.is((await stat(manifest)).mode & 0o777, 0o640, 'manifest mode kept');
  t.deepEqual(
    (await readdir(mdir)).filter((f) => f.includes('.tmp-')),
    [],
  );
  const r2 = await cli(
    seal,
    ['--name', 'api-token', '--label', 'newer', '--key', pub, '--manifest', manifest],
    Buffer.from('tok2'),
  );
  t.is(r2.code, 0, r2.err);
  const store = await ManifestStore.open(manifest, { watch: false });
  t.teardown(() => store.close());
  t.deepEqual([...store.current().entries.keys()], ['other', 'api-token']);
  t.deepEqual(store.current().entries.get('api-token')!.labels, ['newer']);
});

test('a broken manifest is not overwritten and no ciphertext is written', async (t) => {
  const mdir = path.join(dir, 'etc3');
  const manifest = path.join(mdir, 'secrets.yaml');
  await (await import('node:fs/promises')).mkdir(mdir);
  const broken = 'secrets:\n  a: [\n';
  await writeFile(manifest, broken);
  const r = await cli(
    seal,
    ['--name', 'x', '--label', 'l', '--key', path.join(keys, 'host1.pub.asc'), '--manifest', manifest],
    Buffer.from('v'),
  );
  t.is(r.code, 1);
  t.regex(r.err, /not valid YAML/);
  t.is(await readFile(manifest, 'utf8'), broken);
  t.deepEqual(await readdir(mdir), ['secrets.yaml']);
});

test('--image-manifest writes DIR/secrets.yaml with the ciphertext beside it', async (t) => {
  const idir = path.join(dir, 'image-pal');
  const r = await cli(
    seal,
    ['--name', 'img', '--label', 'l', '--key', path.join(keys, 'host1.pub.asc'), '--image-manifest', idir],
    Buffer.from('v'),
  );
  t.is(r.code, 0, r.err);
  t.deepEqual((await readdir(idir)).sort(), ['img.pgp', 'secrets.yaml']);
});

test('usage errors exit 2, Red October ones included', async (t) => {
  const pub = path.join(keys, 'host1.pub.asc');
  const cases: string[][] = [
    [],
    ['--name', 'x', '--key', pub],
    ['--name', 'x', '--label', 'l'],
    ['--name', '.x', '--label', 'l', '--key', pub],
    ['--name', 'x', '--label', 'a b', '--key', pub],
    ['--name', 'x', '--label', 'l', '--key', pub, '--mode', '999'],
    ['--name', 'x', '--label', 'l', '--key', pub, '--manifest', 'a', '--image-manifest', 'b'],
    ['--name', 'x', '--label', 'l', '--unknown'],
  ];
  for (const argv of cases) t.is((await cli(seal, argv)).code, 2, argv.join(' '));
  const roBase = ['--name', 'x', '--label', 'l', '--ro', '--ro-server', 'https://127.0.0.1:1', '--ro-ca', pub];
  const roCases: [string[], RegExp][] = [
    [['--name', 'x', '--label', 'l', '--owners', 'a,b'], /only go with --ro/],
    [[...roBase, '--owners', 'a,b', '--ro-user', 'u'], /PAL_RO_PASSWORD/],
    [[...roBase, '--owners', 'a,b,c', '--minimum', '3', '--ro-user', 'u'], /only --minimum 2/],
    [[...roBase, '--owners', 'a', '--ro-user', 'u'], /at least 2 distinct owners/],
    [[...roBase, '--ro-user', 'u'], /needs --owners/],
    [[...roBase, '--owners', 'a,b', '--ro-user', 'u', '--key', pub], /not both/],
  ];
  const savedPassword = process.env['PAL_RO_PASSWORD'];
  delete process.env['PAL_RO_PASSWORD'];
  try {
    for (const [argv, why] of roCases) {
      const ro = await cli(seal, argv);
      t.is(ro.code, 2, argv.join(' '));
      t.regex(ro.err, why);
    }
  } finally {
    if (savedPassword !== undefined) process.env['PAL_RO_PASSWORD'] = savedPassword;
  }
  const badKey = path.join(dir, 'bad.asc');
  await writeFile(badKey, 'nope');
  const r = await cli(
    seal,
    ['--name', 'x', '--label', 'l', '--key', badKey, '--manifest', path.join(dir, 'etc4', 'secrets.yaml')],
    Buffer.from('v'),
  );
  t.is(r.code, 1);
  t.regex(r.err, /not an OpenPGP key/);
});
