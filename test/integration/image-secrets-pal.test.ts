// Migration from Cloudflare PAL with real dockerd, real FUSE and real GnuPG: ciphertexts made as
// PAL's palpgpenc made them (gpg --encrypt of {"labels":[…],"value":<base64>} to pald's public key,
// exported from pal's keyring, then base64) in an image's PAL_SECRETS_YAML are served as
// /run/pal/<VAR> to containers of that image holding the labels, and to nobody else. A container's
// own `-e PAL_SECRETS_YAML` is never read.

import test from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDockerd, type TestDockerd } from '../../scripts/components/dockerd.js';
import { buildImage, execIn, runWithPal } from '../helpers/pal-container.js';
import { startPald, runCommand, type TestPald } from '../helpers/pald.js';
import { waitFor } from '../helpers/wait.js';

const dbPassword = `pal-db-${randomBytes(16).toString('hex')}`;
const token = `pal-token-${randomBytes(16).toString('hex')}`;
const certText = `pal-file-${randomBytes(16).toString('hex')}`;

let dockerd: TestDockerd | undefined;
let pald: TestPald | undefined;
let ctx = '';
let gnupgHome = '';
const containers: string[] = [];

/** `gpg --batch --encrypt` of bytes on stdin, binary out (no plaintext on disk). */
function gpgEncrypt(recipient: string, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'gpg',
      ['--homedir', gnupgHome, '--batch', '--quiet', '--trust-model', 'always', '--encrypt', '-r', recipient],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`gpg: ${Buffer.concat(err).toString()}`)),
    );
    child.stdin.end(input);
  });
}

/** What palpgpenc printed: base64 of the OpenPGP message of Go's JSON {labels, value([]byte → base64)}. */
async function palpgpenc(recipient: string, labels: string[], value: Buffer): Promise<string> {
  const json = Buffer.from(JSON.stringify({ labels, value: value.toString('base64') }) + '\n');
  return (await gpgEncrypt(recipient, json)).toString('base64');
}

async function build(tag: string, dockerfile: string, files: Record<string, string> = {}, args: string[] = []) {
  const dir = await mkdtemp(join(ctx, 'build-'));
  await writeFile(join(dir, 'Dockerfile'), dockerfile);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  await buildImage(dockerd!, tag, dir, ...args);
}

async function run(name: string, image: string, ...extra: string[]): Promise<string> {
  containers.push(name);
  return runWithPal(dockerd!, pald!.mountpoint, name, image, ...extra);
}

const exec = (c: string, ...cmd: string[]) => execIn(dockerd!, c, ...cmd);

let yaml = '';

test.before(async () => {
  ctx = await mkdtemp(join(tmpdir(), 'pal-palmig-'));
  gnupgHome = join(ctx, 'gnupg');
  await mkdir(gnupgHome, { mode: 0o700 });
  dockerd = await startDockerd();
  await dockerd.importBusyboxImage('pal-mig/base:1');
  pald = await startPald({ dockerHost: dockerd.host });

  // The host key, exported from pal's keyring (`pal keygen` wrote it) and imported into GnuPG.
  const imported = await runCommand('gpg', ['--homedir', gnupgHome, '--batch', '--import', pald.publicKey]);
  if (imported.code !== 0) throw new Error(`gpg --import: ${imported.stderr}`);
  const listed = await runCommand('gpg', ['--homedir', gnupgHome, '--batch', '--with-colons', '--list-keys']);
  const fpr = /^fpr:::::::::([0-9A-F]{40}):/m.exec(listed.stdout)?.[1];
  if (!fpr) throw new Error(`no fingerprint in ${listed.stdout}`);

  const db = await palpgpenc(fpr, ['app'], Buffer.from(dbPassword));
  // pgp+base64: the value PAL encrypted was itself base64 (binary data); PAL's client decoded it.
  const tok = await palpgpenc(fpr, ['app'], Buffer.from(Buffer.from(token).toString('base64')));
  const cert = await palpgpenc(fpr, ['app'], Buffer.from(certText));
  const narrow = await palpgpenc(fpr, ['app', 'billing'], Buffer.from('narrow-plaintext'));
  // Wrapped over lines, as PAL's README shows its values.
  const wrapped = db.match(/.{1,64}/g)!.join('\n      ');
  yaml = [
    'dev:',
    '  env:',
    '    DB_PASSWORD: "not a secret"',
    'production:',
    '  env:',
    `    DB_PASSWORD: |`,
    `      pgp:${wrapped}`,
    `    TOKEN: "pgp+base64:${tok}"`,
    `    NARROW: "pgp:${narrow}"`,
    `    LEGACY_RO: "ro:${Buffer.from('{}').toString('base64')}"`,
    '  file:',
    `    /etc/app/cert.pem: "pgp:${cert}"`,
    '',
  ].join('\n');
  const env = 'FROM pal-mig/base:1\nARG PAL_YAML\nENV PAL_SECRETS_YAML=$PAL_YAML\n';
  const arg = ['--build-arg', `PAL_YAML=${yaml}`];
  await build('pal-mig/app:1', `${env}LABEL pal.labels="app" pal.environment="production"\n`, {}, arg);
  await build('pal-mig/unlabelled:1', `${env}LABEL pal.environment="production"\n`, {}, arg);
  await build(
    'pal-mig/file:1',
    'FROM pal-mig/base:1\nLABEL pal.labels="app" pal.environment="production"\nCOPY pal/ /etc/pal/\n',
    {
      'pal/pal-secrets.yaml': yaml,
    },
  );
  await build('pal-mig/plain:1', 'FROM pal-mig/base:1\nLABEL pal.labels="app" pal.environment="production"\n');
  await build('pal-mig/dev:1', `${env}LABEL pal.labels="app" pal.environment="dev"\n`, {}, arg);
});

test.after.always(async () => {
  for (const c of containers) await dockerd?.docker('rm', '-f', c).catch(() => {});
  await pald?.cleanup();
  await dockerd?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});

test.serial(
  'a labelled container of a PAL image reads /run/pal/DB_PASSWORD (pgp:) and TOKEN (pgp+base64:)',
  async (t) => {
    const c = await run('mig-app', 'pal-mig/app:1');
    const db = await exec(c, 'cat', '/run/pal/DB_PASSWORD');
    t.is(db.code, 0, db.stderr);
    t.is(db.stdout, dbPassword);
    t.is((await exec(c, 'cat', '/run/pal/TOKEN')).stdout, token);
    t.is((await exec(c, 'cat', '/run/pal/cert.pem')).stdout, certText);
    // Never an environment variable.
    const env = await exec(c, 'env');
    t.false(env.stdout.includes(dbPassword));
    const ls = await exec(c, 'ls', '/run/pal');
    t.deepEqual(ls.stdout.trim().split(/\s+/).sort(), ['DB_PASSWORD', 'TOKEN', 'cert.pem']);
  },
);

test.serial(
  'a payload label the container lacks denies it; ro: without Red October is a clear per-entry error',
  async (t) => {
    const c = await run('mig-narrow', 'pal-mig/app:1');
    const r = await exec(c, 'cat', '/run/pal/NARROW');
    t.not(r.code, 0);
    t.false(r.stdout.includes('narrow-plaintext'));
    t.regex(pald!.output(), /env "LEGACY_RO": ro: needs the Red October backend, which is not configured/);
  },
);

test.serial('a container of the PAL image without the label is denied', async (t) => {
  const c = await run('mig-unlabelled', 'pal-mig/unlabelled:1');
  const r = await exec(c, 'cat', '/run/pal/DB_PASSWORD');
  t.not(r.code, 0);
  t.false(r.stdout.includes(dbPassword));
  t.false((await exec(c, 'ls', '/run/pal')).stdout.includes('DB_PASSWORD'));
  await waitFor('the denial in the audit log', async () =>
    /"secret":"DB_PASSWORD".*"decision":"deny".*missing label app/.test(
      await readFile(pald!.auditPath, 'utf8').catch(() => ''),
    ),
  );
  t.pass();
});

test.serial('/etc/pal/pal-secrets.yaml in the image works the same', async (t) => {
  const c = await run('mig-file', 'pal-mig/file:1');
  t.is((await exec(c, 'cat', '/run/pal/DB_PASSWORD')).stdout, dbPassword);
});

test.serial("a container's own -e PAL_SECRETS_YAML is never read (only the image's config is)", async (t) => {
  const c = await run('mig-runtime-env', 'pal-mig/plain:1', '-e', `PAL_SECRETS_YAML=${yaml}`);
  const r = await exec(c, 'cat', '/run/pal/DB_PASSWORD');
  t.not(r.code, 0);
  t.false(r.stdout.includes(dbPassword));
  t.is((await exec(c, 'ls', '/run/pal')).stdout.trim(), '');
});

test.serial("the node's image_secrets.pal_environment wins over the image's pal.environment label", async (t) => {
  // The image picks "dev", whose DB_PASSWORD is a plain setting: refused, nothing served.
  const dev = await run('mig-dev-label', 'pal-mig/dev:1');
  t.not((await exec(dev, 'cat', '/run/pal/DB_PASSWORD')).code, 0);
  // A node that serves "production" (same host keys, its own mount) serves production's value to the same image.
  const node = await startPald({
    dockerHost: dockerd!.host,
    extraConfig: { keys: pald!.keysDir, image_secrets: { pal_environment: 'production' } },
  });
  t.teardown(() => node.cleanup());
  containers.push('mig-node-env');
  const c = await runWithPal(dockerd!, node.mountpoint, 'mig-node-env', 'pal-mig/dev:1');
  const r = await exec(c, 'cat', '/run/pal/DB_PASSWORD');
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, dbPassword);
});
