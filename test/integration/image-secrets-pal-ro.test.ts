// Migration from Cloudflare PAL, Red October side, with real dockerd, real FUSE and a real Red
// October server: `ro:` / `ro+base64:` values made as PAL's users made them (Red October /encrypt
// of the value with labels, the reply's ciphertext as is) in an image's PAL_SECRETS_YAML are served
// as /run/pal/<VAR> to containers of that image holding the labels, after the owners delegated to
// pald's account; a container without the label is refused before any /decrypt (no use is spent).

import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDockerd, type TestDockerd } from '../../scripts/components/dockerd.js';
import { startRedOctober, type TestRedOctober } from '../../scripts/components/redoctober.js';
import { buildImage, execIn, runWithPal } from '../helpers/pal-container.js';
import { startPald, type TestPald } from '../helpers/pald.js';
import { waitFor } from '../helpers/wait.js';

const dbPassword = `pal-ro-db-${randomBytes(16).toString('hex')}`;
const token = `pal-ro-token-${randomBytes(16).toString('hex')}`;
const PW = `pw-${randomBytes(8).toString('hex')}`;
const ADMIN = { Name: 'admin', Password: PW };
const OWNERS = ['alice', 'bob'];

let ro: TestRedOctober | undefined;
let dockerd: TestDockerd | undefined;
let pald: TestPald | undefined;
let ctx = '';
const containers: string[] = [];

/** A PAL ro: value: Red October /encrypt of the value (base64 in the request, Go []byte), labelled. */
async function roEncrypt(labels: string[], value: Buffer): Promise<string> {
  const reply = await ro!.call('/encrypt', {
    ...ADMIN,
    Minimum: 2,
    Owners: OWNERS,
    Labels: labels,
    Data: value.toString('base64'),
  });
  return reply['Response'] as string;
}

async function build(tag: string, dockerfile: string, args: string[]): Promise<void> {
  const dir = await mkdtemp(join(ctx, 'build-'));
  await writeFile(join(dir, 'Dockerfile'), dockerfile);
  await buildImage(dockerd!, tag, dir, ...args);
}

async function run(name: string, image: string): Promise<string> {
  containers.push(name);
  return runWithPal(dockerd!, pald!.mountpoint, name, image);
}

const cat = (c: string, secret: string) => execIn(dockerd!, c, 'cat', `/run/pal/${secret}`);

async function delegate(owner: string, uses: number): Promise<void> {
  await ro!.call('/delegate', { Name: owner, Password: PW, Uses: uses, Time: '1h', Users: ['host1'], Labels: ['app'] });
}

test.before(async () => {
  ctx = await mkdtemp(join(tmpdir(), 'pal-palro-'));
  ro = await startRedOctober();
  await ro.call('/create', ADMIN);
  for (const u of [...OWNERS, 'host1'])
    await ro.call('/create-user', { Name: u, Password: u === 'host1' ? `${PW}-host` : PW, UserType: 'ECC' });
  dockerd = await startDockerd();
  await dockerd.importBusyboxImage('pal-ro-mig/base:1');
  const passwordFile = join(ro.dir, 'host1-password'); // a private temp dir: File safety holds
  await writeFile(passwordFile, `${PW}-host\n`, { mode: 0o600 });
  pald = await startPald({
    dockerHost: dockerd.host,
    extraConfig: { redoctober: { server: ro.url, ca: ro.caFile, user: 'host1', password_file: passwordFile } },
  });

  const db = await roEncrypt(['app'], Buffer.from(dbPassword));
  // ro+base64: Red October carries strings; PAL's client base64-decoded the value once more.
  const tok = await roEncrypt(['app'], Buffer.from(Buffer.from(token).toString('base64')));
  const yaml = [
    'production:',
    '  env:',
    `    DB_PASSWORD: "ro:${db}"`,
    `    TOKEN: "ro+base64:${tok}"`,
    `    NOT_RO: "ro:${Buffer.from('{}').toString('base64')}"`,
    '',
  ].join('\n');
  const env = 'FROM pal-ro-mig/base:1\nARG PAL_YAML\nENV PAL_SECRETS_YAML=$PAL_YAML\n';
  const arg = ['--build-arg', `PAL_YAML=${yaml}`];
  await build('pal-ro-mig/app:1', `${env}LABEL pal.labels="app"\n`, arg);
  await build('pal-ro-mig/unlabelled:1', `${env}LABEL pal.labels="other"\n`, arg);
});

test.after.always(async () => {
  for (const c of containers) await dockerd?.docker('rm', '-f', c).catch(() => {});
  await pald?.cleanup();
  await dockerd?.cleanup();
  await ro?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});

test.serial('a container without the label is refused before any /decrypt: no delegation use is spent', async (t) => {
  await delegate('alice', 5);
  await delegate('bob', 5);
  const before = await ro!.uses(ADMIN);
  t.deepEqual(before, { alice: 5, bob: 5 });
  const c = await run('palro-unlabelled', 'pal-ro-mig/unlabelled:1');
  const r = await cat(c, 'DB_PASSWORD');
  t.not(r.code, 0);
  t.false(r.stdout.includes(dbPassword));
  await waitFor('the denial in the audit log', async () =>
    /"secret":"DB_PASSWORD".*"decision":"deny".*missing label app/.test(
      await readFile(pald!.auditPath, 'utf8').catch(() => ''),
    ),
  );
  t.deepEqual(await ro!.uses(ADMIN), before, 'no /decrypt was made');
  t.regex(pald!.output(), /env "NOT_RO": cannot read its Red October labels/);
});

test.serial('a labelled container reads ro: and ro+base64: entries once the owners delegated', async (t) => {
  const c = await run('palro-app', 'pal-ro-mig/app:1');
  const db = await cat(c, 'DB_PASSWORD');
  t.is(db.code, 0, db.stderr);
  t.is(db.stdout, dbPassword);
  const tok = await cat(c, 'TOKEN');
  t.is(tok.code, 0, tok.stderr);
  t.is(tok.stdout, token);
  const uses = await ro!.uses(ADMIN);
  t.true((uses['alice'] ?? 0) < 5 && (uses['bob'] ?? 0) < 5, JSON.stringify(uses));
});
