// Red October end to end: a real redoctober server (TLS, fresh vault), real dockerd containers,
// real pald FUSE mount. A 2-of-3 secret opens only while two owners have delegated to this host's
// machine account; an unauthorised open spends no delegation use; outages fail closed (EIO) and
// heal without restarting pald; a corrupt ciphertext fails for itself only.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startDockerd, type TestDockerd } from '../../scripts/components/dockerd.js';
import { startPald, runCommand, PAL_JS, type TestPald } from '../helpers/pald.js';
import { waitFor } from '../helpers/wait.js';
import { startRedOctober, type TestRedOctober } from '../../scripts/components/redoctober.js';

const secretText = `ro-secret-${randomBytes(16).toString('hex')}`;
const PW = `pw-${randomBytes(8).toString('hex')}`;
const ADMIN = { Name: 'admin', Password: PW };
const OWNERS = ['alice', 'bob', 'carol'];

let ro: TestRedOctober | undefined;
let dockerd: TestDockerd | undefined;
let pald: TestPald | undefined;
const containers: string[] = [];

async function run(name: string, image: string): Promise<string> {
  await dockerd!.docker('run', '-d', '--name', name, '--network', 'none', '-v',
    `${pald!.mountpoint}:/run/pal:ro,rslave`, image, 'sleep', '3600'); // prettier-ignore
  containers.push(name);
  return name;
}

const cat = (container: string, secret: string) =>
  runCommand('docker', ['-H', dockerd!.host, 'exec', container, 'cat', `/run/pal/${secret}`]);

async function sealRo(name: string, labels: string[]): Promise<void> {
  const args = ['seal', '--name', name, '--ro', '--owners', OWNERS.join(','), '--minimum', '2',
    '--ro-server', ro!.url, '--ro-ca', ro!.caFile, '--ro-user', 'admin', '--manifest', pald!.manifest,
    ...labels.flatMap((l) => ['--label', l])]; // prettier-ignore
  const r = await runCommand(process.execPath, [PAL_JS, ...args], {
    input: secretText,
    env: { ...process.env, PAL_RO_PASSWORD: PW },
  });
  if (r.code !== 0) throw new Error(`pal seal --ro ${name}: ${r.stderr}`);
  if (r.stdout.includes(secretText) || r.stderr.includes(secretText)) throw new Error('pal seal printed the secret');
}

/** Rewrites manifest entries (labels, cache) as an operator would. */
async function editManifest(edit: (secrets: Record<string, Record<string, unknown>>) => void): Promise<void> {
  const doc = parse(await readFile(pald!.manifest, 'utf8')) as { secrets: Record<string, Record<string, unknown>> };
  edit(doc.secrets);
  await writeFile(pald!.manifest, stringify(doc), { mode: 0o644 });
}

async function delegate(owner: string, uses: number, time = '1h'): Promise<void> {
  await ro!.call('/delegate', {
    Name: owner,
    Password: PW,
    Uses: uses,
    Time: time,
    Users: ['host1'],
    Labels: ['billing'],
  });
}

async function auditLines(): Promise<string> {
  return readFile(pald!.auditPath, 'utf8').catch(() => '');
}

test.before(async () => {
  ro = await startRedOctober();
  await ro.call('/create', ADMIN);
  for (const u of [...OWNERS, 'host1'])
    await ro.call('/create-user', { Name: u, Password: u === 'host1' ? `${PW}-host` : PW, UserType: 'ECC' });
  dockerd = await startDockerd();
  const billing = await dockerd.importBusyboxImage('pal-ro/billing:1', { 'pal.labels': 'billing' });
  const other = await dockerd.importBusyboxImage('pal-ro/other:1', { 'pal.labels': 'other' });
  const passwordFile = join(ro.dir, 'host1-password'); // a private temp dir: File safety holds
  await writeFile(passwordFile, `${PW}-host\n`, { mode: 0o600 });
  pald = await startPald({
    dockerHost: dockerd.host,
    extraConfig: { redoctober: { server: ro.url, ca: ro.caFile, user: 'host1', password_file: passwordFile } },
  });
  await sealRo('pay', ['billing']);
  await sealRo('relabelled', ['billing']);
  await sealRo('broken', ['billing']);
  await writeFile(join(pald.dir, 'etc', 'broken.ro'), 'bm90IGEgcmVkIG9jdG9iZXIgY2lwaGVydGV4dA==\n', { mode: 0o644 });
  // Every open decrypts (cache: 0), and `relabelled` is granted in the manifest to "other", a label
  // its sealing does not carry: pald must refuse it before /decrypt.
  await editManifest((s) => {
    s['pay']!['cache'] = 0;
    s['relabelled']!['labels'] = ['other'];
  });
  await waitFor('pald to load the ro: secrets', async () => {
    const r = await pald!.pal('secrets', '--json');
    const list = r.code === 0 ? (JSON.parse(r.stdout) as { name: string; labels: string[] }[]) : [];
    return list.length === 3 && list.find((e) => e.name === 'relabelled')?.labels[0] === 'other';
  });
  await run('billing', billing);
  await run('other', other);
});

test.after.always(async () => {
  for (const c of containers) await dockerd?.docker('rm', '-f', c).catch(() => {});
  await pald?.cleanup();
  await dockerd?.cleanup();
  await ro?.cleanup();
});

test.serial('no delegation: EACCES, and the audit log says which delegations are missing', async (t) => {
  const r = await cat('billing', 'pay');
  t.not(r.code, 0);
  t.regex(r.stderr, /Permission denied/);
  const audit = await waitFor('the denial in the audit log', async () =>
    (await auditLines()).includes('needs 2 more delegations from alice, bob, carol') ? auditLines() : undefined,
  );
  t.regex(audit, /"decision":"deny"/);
  const explained = await pald!.pal('explain', 'billing', 'pay');
  t.regex(explained.stdout, /redoctober delegation MISSING at the last decrypt .*needs 2 more delegations/);
});

test.serial('two owners delegate: the container reads; each decrypt takes one use', async (t) => {
  await delegate('alice', 2);
  await delegate('bob', 2);
  const r = await cat('billing', 'pay');
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, secretText);
  t.deepEqual(await ro!.uses(ADMIN), { alice: 1, bob: 1 });
});

test.serial('an unauthorised caller is denied without spending a delegation use', async (t) => {
  const relabelled = await cat('other', 'relabelled'); // holds the manifest's label, not the sealed one
  t.not(relabelled.code, 0);
  t.regex(relabelled.stderr, /Permission denied/);
  const notMine = await cat('other', 'pay');
  t.not(notMine.code, 0);
  t.deepEqual(await ro!.uses(ADMIN), { alice: 1, bob: 1 });
  t.regex(await auditLines(), /"secret":"relabelled".*missing label billing/);
});

test.serial('cache: 0 decrypts at every open, so the uses run out and the next open is refused', async (t) => {
  const r = await cat('billing', 'pay');
  t.is(r.stdout, secretText, r.stderr);
  t.deepEqual(await ro!.uses(ADMIN), {});
  const after = await cat('billing', 'pay');
  t.regex(after.stderr, /Permission denied/);
});

test.serial('a corrupt ciphertext fails with EIO for that secret only', async (t) => {
  await delegate('alice', 5);
  await delegate('carol', 5);
  const broken = await cat('billing', 'broken');
  t.regex(broken.stderr, /Input\/output error/);
  const pay = await cat('billing', 'pay');
  t.is(pay.stdout, secretText, pay.stderr);
});

test.serial('an expired delegation is refused (EACCES) at the next decrypt', async (t) => {
  await delegate('alice', 1000, '1s');
  await delegate('carol', 1000, '1s');
  // Polls with a deadline: every open decrypts (cache: 0) until the delegations expire.
  const denied = await waitFor('the delegations to expire', async () => {
    const r = await cat('billing', 'pay');
    return /Permission denied/.test(r.stderr) ? r : undefined;
  }, { timeoutMs: 20_000, intervalMs: 200 }); // prettier-ignore
  t.not(denied.code, 0);
  t.regex(await auditLines(), /(delegation expired|needs 2 more delegations)/);
});

test.serial('Red October down: EIO (fail closed); back up: works again without restarting pald', async (t) => {
  const pid = pald!.pid;
  await ro!.stop();
  const down = await cat('billing', 'pay');
  t.regex(down.stderr, /Input\/output error/);
  t.regex((await pald!.pal('status')).stdout, /redoctober https:\/\/127\.0\.0\.1:\d+ as host1: UNREACHABLE/);
  await ro!.start(); // delegations live in memory: the owners delegate again
  await delegate('bob', 1);
  await delegate('carol', 1);
  const up = await cat('billing', 'pay');
  t.is(up.stdout, secretText, up.stderr);
  t.is(pald!.pid, pid);
  const status = await pald!.pal('status', '--json');
  t.regex(status.stdout, /"reachable": ?true/);
});

test.serial('the plaintext is in no log, audit line or pal output', async (t) => {
  t.false((await auditLines()).includes(secretText));
  t.false(pald!.output().includes(secretText));
  t.false(ro!.output().includes(secretText));
  const status = await pald!.pal('status', '--json');
  t.false(status.stdout.includes(secretText));
});

test.serial('pal seal --ro with a wrong password writes nothing and never echoes the password', async (t) => {
  const wrong = `wrong-${randomBytes(6).toString('hex')}`;
  const args = ['seal', '--name', 'nope', '--label', 'billing', '--ro', '--owners', OWNERS.join(','),
    '--ro-server', ro!.url, '--ro-ca', ro!.caFile, '--ro-user', 'admin', '--manifest', pald!.manifest]; // prettier-ignore
  const r = await runCommand(process.execPath, [PAL_JS, ...args], {
    input: secretText,
    env: { ...process.env, PAL_RO_PASSWORD: wrong },
  });
  t.is(r.code, 1);
  t.regex(r.stderr, /Red October refused \/encrypt/);
  t.false(r.stderr.includes(wrong) || r.stdout.includes(wrong));
  t.false((await readFile(pald!.manifest, 'utf8')).includes('nope'));
});
