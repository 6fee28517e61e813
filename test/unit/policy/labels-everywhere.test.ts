// One label grammar (SPEC "Labels", src/policy/labels.ts) wherever a label is written or read:
// `pal seal`, the manifest, the sealed payload and signed trust data. A secret sealed for `.ops`
// or `Ops` would pass every other check and never open: it is refused where it is written.
import test from 'ava';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import * as openpgp from 'openpgp';
import { run as keygen } from '../../../src/cli/keygen.js';
import { run as seal } from '../../../src/cli/seal.js';
import { decodePayload, OpenPgpBackend, SecretError } from '../../../src/crypto/index.js';
import { parseManifest, labelProblem as storeLabelProblem } from '../../../src/store/index.js';
import { isValidLabel as trustIsValidLabel } from '../../../src/trust/labels.js';
import { labelProblem } from '../../../src/policy/labels.js';
import { FakeSecureMemory } from '../../helpers/fake-secure.js';

const BAD = ['.ops', 'Ops', '_x', '-x', 'a b', 'x'.repeat(129), ''];
const GOOD = ['ops', 'team=payments', 'a.b_c-1', '0', 'x'.repeat(128)];

const dirs: string[] = [];
test.after.always(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
async function fresh(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pal-labels-'));
  dirs.push(dir);
  return dir;
}

async function cli(argv: string[], stdin: string): Promise<{ code: number; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks: Buffer[] = [];
  err.on('data', (c: Buffer) => chunks.push(c));
  out.resume();
  const code = await seal(argv, { stdout: out, stderr: err, stdin: Readable.from([Buffer.from(stdin)]) });
  return { code, err: Buffer.concat(chunks).toString() };
}

test('store and trust use the policy grammar itself', (t) => {
  for (const l of [...BAD, ...GOOD]) {
    t.is(storeLabelProblem(l), labelProblem(l), l);
    t.is(trustIsValidLabel(l), labelProblem(l) === undefined, l);
  }
  for (const l of GOOD) t.is(labelProblem(l), undefined, l);
  for (const l of BAD) t.truthy(labelProblem(l), l);
});

test('pal seal refuses a label outside the grammar with the reason (exit 2), writing nothing', async (t) => {
  const dir = await fresh();
  const keys = path.join(dir, 'keys');
  const devnull = new PassThrough();
  devnull.resume();
  t.is(await keygen(['--out', keys, '--name', 'h'], { stdout: devnull, stderr: devnull }), 0);
  const manifest = path.join(dir, 'm', 'secrets.yaml');
  for (const [label, reason] of [
    ['.ops', /--label: label "\.ops" must start with a letter or digit/],
    ['Ops', /--label: label "Ops" has upper case letters/],
  ] as const) {
    const r = await cli(
      [
        '--name',
        'db',
        '--label',
        'ok',
        '--label',
        label,
        '--key',
        path.join(keys, 'h.pub.asc'),
        '--manifest',
        manifest,
      ],
      'v',
    );
    t.is(r.code, 2, label);
    t.regex(r.err, reason);
  }
  t.deepEqual(await readdir(dir), ['keys']);
  t.is(
    (
      await cli(
        ['--name', 'db', '--label', 'team=ops', '--key', path.join(keys, 'h.pub.asc'), '--manifest', manifest],
        'v',
      )
    ).code,
    0,
  );
});

test('the manifest refuses an entry labelled .ops or Ops, with the reason and line', async (t) => {
  const dir = await fresh();
  await writeFile(path.join(dir, 'a.pgp'), 'x');
  const text = `secrets:\n  a:\n    file: a.pgp\n    labels: [.ops]\n  b:\n    file: a.pgp\n    labels: [Ops]\n  c:\n    file: a.pgp\n    labels: [ops]\n`;
  const parsed = await parseManifest(path.join(dir, 'secrets.yaml'), text);
  t.true(parsed.ok);
  if (!parsed.ok) return;
  t.deepEqual([...parsed.entries.keys()], ['c']);
  t.deepEqual(
    parsed.problems.map((p) => [p.entry, p.line, p.message]),
    [
      ['a', 4, 'labels: label ".ops" must start with a letter or digit (entry skipped)'],
      ['b', 7, 'labels: label "Ops" has upper case letters (labels are lower case) (entry skipped)'],
    ],
  );
});

test('a sealed payload whose labels break the grammar is corrupt', async (t) => {
  const payload = (labels: unknown): Uint8Array =>
    Buffer.from(JSON.stringify({ pal: 1, name: 'db', labels }) + '\nvalue');
  t.throws(() => decodePayload(payload(['Ops'])), {
    message: 'sealed payload has an invalid label: label "Ops" has upper case letters (labels are lower case)',
  });
  t.throws(() => decodePayload(payload(['.ops'])), { message: /invalid label: label "\.ops" must start/ });
  t.throws(() => decodePayload(payload([1])), { message: /invalid label: a label must be a string/ });
  t.deepEqual(decodePayload(payload(['ops'])).labels, ['ops']);

  // Through the backend: a validly encrypted message carrying such a payload is SecretError corrupt.
  const dir = await fresh();
  const k = await openpgp.generateKey({ userIDs: [{ name: 'h' }], format: 'armored' });
  await writeFile(path.join(dir, 'h.key'), k.privateKey, { mode: 0o600 });
  const backend = await OpenPgpBackend.load(dir, { allocSecure: new FakeSecureMemory().from });
  const message = await openpgp.createMessage({ binary: payload(['.ops']), format: 'binary' });
  const ct = await openpgp.encrypt({
    message,
    encryptionKeys: await openpgp.readKey({ armoredKey: k.publicKey }),
    format: 'binary',
  });
  const entry = {
    name: 'db',
    labels: ['ops'],
    mode: 0o400,
    backend: 'openpgp' as const,
    ciphertextPath: '/x',
    version: 'v',
    mtimeMs: 0,
  };
  const err = await t.throwsAsync(backend.decrypt(entry, ct), { instanceOf: SecretError });
  t.is(err?.code, 'corrupt');
  t.regex(err!.message, /invalid label: label "\.ops" must start with a letter or digit/);
});

test('pal seal warns when pald would refuse the manifest it wrote (File safety)', async (t) => {
  const dir = await fresh();
  const keys = path.join(dir, 'keys');
  const devnull = new PassThrough();
  devnull.resume();
  t.is(await keygen(['--out', keys, '--name', 'h'], { stdout: devnull, stderr: devnull }), 0);
  const m = path.join(dir, 'm');
  const { mkdir, chmod } = await import('node:fs/promises');
  await mkdir(m, { mode: 0o755 });
  await chmod(m, 0o777);
  const r = await cli(
    ['--name', 'db', '--label', 'a', '--key', path.join(keys, 'h.pub.asc'), '--manifest', path.join(m, 'secrets.yaml')],
    'v',
  );
  t.is(r.code, 0);
  t.regex(
    r.err,
    /warning: pald will refuse this until it is fixed: manifest .*directory .*\/m \(owner uid 0, mode 0777\) is writable by group or others/,
  );
  await chmod(m, 0o755);
  const ok = await cli(
    ['--name', 'db', '--label', 'a', '--key', path.join(keys, 'h.pub.asc'), '--manifest', path.join(m, 'secrets.yaml')],
    'v',
  );
  t.is(ok.err, '');
});
