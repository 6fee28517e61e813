// `pald --check-config` (SPEC §2): the config and every file it names, File safety included,
// without mounting: exit 0, or 1 with the problems.
import test from 'ava';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as openpgp from 'openpgp';
import { checkConfig } from '../../../src/daemon/check-config.js';
import { sealOpenPgp } from '../../../src/crypto/index.js';

const PALD_JS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src/cli/pald.js');

const dirs: string[] = [];
test.after.always(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A complete, safe /etc/pal in a temp dir: config, manifest with one sealed secret, a key, a CA file, state_dir. */
async function etc(): Promise<{ dir: string; config: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pal-check-'));
  dirs.push(dir);
  const k = await openpgp.generateKey({ userIDs: [{ name: 'h' }], format: 'armored' });
  await mkdir(path.join(dir, 'keys'), { mode: 0o700 });
  await writeFile(path.join(dir, 'keys', 'h.key'), k.privateKey, { mode: 0o600 });
  const ct = await sealOpenPgp({
    name: 'db',
    labels: ['a'],
    plaintext: Buffer.from('v'),
    publicKeysArmored: [k.publicKey],
  });
  await writeFile(path.join(dir, 'db.pgp'), ct, { mode: 0o644 });
  await writeFile(path.join(dir, 'secrets.yaml'), 'secrets:\n  db:\n    file: db.pgp\n    labels: [a]\n', {
    mode: 0o644,
  });
  await writeFile(path.join(dir, 'ca.pem'), 'x', { mode: 0o644 });
  await mkdir(path.join(dir, 'state'), { mode: 0o700 });
  const config = path.join(dir, 'pald.yaml');
  await writeFile(
    config,
    `manifest: secrets.yaml\nkeys: keys\nstate_dir: state\ntrust:\n  mode: signed\n  notary:\n    server: https://127.0.0.1:1\n    ca: ca.pem\n`,
    { mode: 0o644 },
  );
  return { dir, config };
}

function pald(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PALD_JS, ...args], (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('a safe, complete configuration checks clean (exit 0)', async (t) => {
  const { config } = await etc();
  t.deepEqual((await checkConfig(config)).problems, []);
  const r = await pald('--check-config', '--config', config);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /configuration OK/);
});

test('every unsafe or broken file is a problem, all reported at once (exit 1)', async (t) => {
  const { dir, config } = await etc();
  await chmod(path.join(dir, 'keys', 'h.key'), 0o644);
  await chmod(path.join(dir, 'ca.pem'), 0o666);
  await chmod(path.join(dir, 'state'), 0o777);
  const { problems } = await checkConfig(config);
  t.is(problems.length, 3, problems.join('\n'));
  t.true(problems.some((p) => /h\.key: mode 0644 is readable by group or others/.test(p)));
  t.true(problems.some((p) => /trust store .*ca\.pem: mode 0666 is writable/.test(p)));
  t.true(problems.some((p) => /state directory .*state: mode 0777 is writable/.test(p)));
  await chmod(path.join(dir, 'keys', 'h.key'), 0o600);
  await chmod(path.join(dir, 'ca.pem'), 0o644);
  await chmod(path.join(dir, 'state'), 0o700);

  await chmod(path.join(dir, 'db.pgp'), 0o664);
  await writeFile(
    path.join(dir, 'secrets.yaml'),
    'secrets:\n  db:\n    file: db.pgp\n    labels: [a]\n  gone:\n    file: gone.pgp\n    labels: [a]\n',
  );
  const r = await pald('--check-config', '--config', config);
  t.is(r.code, 1);
  t.regex(r.stderr, /db\.pgp: mode 0664 is writable by group or others/);

  await chmod(path.join(dir, 'db.pgp'), 0o644);
  const r2 = await pald('--check-config', '--config', config);
  t.is(r2.code, 1);
  t.regex(r2.stderr, /\[gone\]: gone\.pgp: ciphertext file not found/);
});

test('an unsafe config file is the one problem (exit 1)', async (t) => {
  const { config } = await etc();
  await chmod(config, 0o646);
  const r = await pald('--check-config', '--config', config);
  t.is(r.code, 1);
  t.regex(r.stderr, new RegExp(`problem: config ${config}: mode 0646 is writable by group or others`));
});

test('cosign keys, trusted root and registry files are checked too', async (t) => {
  const { dir, config } = await etc();
  const { generateKeyPairSync } = await import('node:crypto');
  const pub = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' });
  await writeFile(path.join(dir, 'cosign.pub'), pub, { mode: 0o644 });
  await writeFile(path.join(dir, 'dsa.pub'), 'not a key', { mode: 0o644 });
  await writeFile(path.join(dir, 'trusted_root.json'), '{}', { mode: 0o644 });
  await writeFile(path.join(dir, 'auth.json'), '{"auths":{}}');
  await chmod(path.join(dir, 'auth.json'), 0o666);
  await writeFile(
    config,
    `manifest: secrets.yaml\nkeys: keys\nstate_dir: state\ntrust:\n  mode: signed\n  cosign:\n    policies:\n      - repository: r.example.com/*\n        keys: [cosign.pub, dsa.pub]\n        keyless:\n          trusted_root: trusted_root.json\n          identities: [{ issuer: https://i, subject: s }]\n        grants: [a]\n  registries:\n    r.example.com: { auth: auth.json }\n`,
    { mode: 0o644 },
  );
  const { problems, checked } = await checkConfig(config);
  t.true(
    checked.some((c) => /cosign key .*cosign\.pub \(ec, [0-9a-f]{16}\)/.test(c)),
    checked.join('\n'),
  );
  t.true(
    problems.some((p) => /dsa\.pub: not a PEM public key/.test(p)),
    problems.join('\n'),
  );
  t.true(
    problems.some((p) => /trusted_root\.json: needs at least one certificate authority/.test(p)),
    problems.join('\n'),
  );
  t.true(
    problems.some((p) => /registry r\.example\.com: .*auth\.json: mode 0666 is writable/.test(p)),
    problems.join('\n'),
  );
  t.is(problems.length, 3, problems.join('\n'));
});

test('Notation trust stores are checked too', async (t) => {
  const { dir, config } = await etc();
  const { execFileSync } = await import('node:child_process');
  await mkdir(path.join(dir, 'store'), { mode: 0o755 });
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      path.join(dir, 'ca.key'),
      '-out',
      path.join(dir, 'store', 'ca.pem'),
      '-subj',
      '/O=Acme/CN=Root',
      '-days',
      '1',
    ],
    { stdio: 'ignore' },
  );
  await chmod(path.join(dir, 'store', 'ca.pem'), 0o644);
  await mkdir(path.join(dir, 'bad-store'), { mode: 0o755 });
  await writeFile(
    path.join(dir, 'bad-store', 'key.pem'),
    '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n',
    { mode: 0o644 },
  );
  await writeFile(
    config,
    `manifest: secrets.yaml\nkeys: keys\nstate_dir: state\ntrust:\n  mode: signed\n  notation:\n    policies:\n      - { repository: a.example.com/*, trust_store: store, identities: ["*"], grants: [a] }\n      - { repository: b.example.com/*, trust_store: bad-store, identities: ["*"], grants: [a] }\n`,
    { mode: 0o644 },
  );
  const { problems, checked } = await checkConfig(config);
  t.true(
    checked.some((c) => /notation trust store .*store \(1 certificate\(s\)\)/.test(c)),
    checked.join('\n'),
  );
  t.true(
    problems.some((p) => /notation policy b\.example\.com\/\*: .*key\.pem: holds a PRIVATE KEY block/.test(p)),
    problems.join('\n'),
  );
  t.is(problems.length, 1, problems.join('\n'));
});
