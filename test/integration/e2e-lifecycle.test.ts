// End to end: rotation and revocation reach running containers, a broken manifest edit keeps the
// last good one serving, a corrupt ciphertext fails only itself, and a SIGKILLed pald comes back
// under a running rslave container.

import test from 'ava';
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseDocument } from 'yaml';
import { startDockerd, type TestDockerd } from '../../scripts/components/dockerd.js';
import { startPald, runCommand, PALD_JS, type TestPald } from '../helpers/pald.js';
import { waitFor } from '../helpers/wait.js';

let dockerd: TestDockerd | undefined;
let pald: TestPald | undefined;
const containers: string[] = [];
let reader = '';
const first = `first-${randomBytes(16).toString('hex')}`;

function exec(container: string, ...cmd: string[]) {
  return runCommand('docker', ['-H', dockerd!.host, 'exec', container, ...cmd]);
}

async function readsAs(container: string, name: string): Promise<string | undefined> {
  const r = await exec(container, 'cat', `/run/pal/${name}`);
  return r.code === 0 ? r.stdout : undefined;
}

/** Edits the manifest the way an operator's tool would: write a temp file, rename it over. */
async function editManifest(edit: (doc: ReturnType<typeof parseDocument>) => void): Promise<void> {
  const doc = parseDocument(await readFile(pald!.manifest, 'utf8'));
  edit(doc);
  const tmp = join(dirname(pald!.manifest), '.secrets.yaml.tmp');
  await writeFile(tmp, doc.toString());
  await rename(tmp, pald!.manifest);
}

async function status(): Promise<{
  manifest: { generation: number; entries: number; problems: { message: string; line?: number }[] };
}> {
  const r = await pald!.pal('status', '--json');
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

test.before(async () => {
  dockerd = await startDockerd();
  const image = await dockerd.importBusyboxImage('pal-e2e/life:1', { 'pal.labels': 'demo' });
  pald = await startPald({ dockerHost: dockerd.host });
  await pald.seal('db-password', ['demo'], first);
  await pald.seal('api-token', ['demo'], 'token-value');
  await dockerd.docker(
    'run',
    '-d',
    '--name',
    'reader',
    '--network',
    'none',
    '-v',
    `${pald.mountpoint}:/run/pal:ro,rslave`,
    image,
    'sleep',
    '3600',
  );
  containers.push('reader');
  reader = 'reader';
  await waitFor('the container to read the first secret', () =>
    readsAs(reader, 'db-password').then((v) => v === first),
  );
});

test.after.always(async () => {
  for (const c of containers) await dockerd?.docker('rm', '-f', c).catch(() => {});
  await pald?.cleanup();
  await dockerd?.cleanup();
});

test.serial('rotation: a re-sealed secret reaches the running container at its next open', async (t) => {
  const second = `second-${randomBytes(16).toString('hex')}`;
  await pald!.seal('db-password', ['demo'], second);
  t.is(await waitFor('the rotated value', () => readsAs(reader, 'db-password').then((v) => v === second && v)), second);
  const size = await exec(reader, 'stat', '-c', '%s', '/run/pal/db-password');
  t.is(size.stdout.trim(), String(second.length));
});

test.serial('revocation: removing the label from the manifest denies at the next open', async (t) => {
  await editManifest((doc) => doc.setIn(['secrets', 'api-token', 'labels'], ['someone-else']));
  await waitFor(
    'api-token to disappear for the container',
    async () => (await readsAs(reader, 'api-token')) === undefined,
  );
  const cat = await exec(reader, 'cat', '/run/pal/api-token');
  t.regex(cat.stderr, /No such file or directory/);
  t.truthy(await readsAs(reader, 'db-password'), 'other secrets unaffected');
  await editManifest((doc) => doc.setIn(['secrets', 'api-token', 'labels'], ['demo']));
  t.is(await waitFor('api-token back', () => readsAs(reader, 'api-token')), 'token-value');
});

test.serial('a broken manifest edit keeps the last good one serving, and pal status shows the error', async (t) => {
  const good = await readFile(pald!.manifest, 'utf8');
  const before = (await status()).manifest.generation;
  const expected = await readsAs(reader, 'db-password');
  const tmp = join(dirname(pald!.manifest), '.broken.tmp');
  await writeFile(tmp, 'secrets:\n  db-password: [unclosed\n');
  await rename(tmp, pald!.manifest);
  const s = await waitFor('the bad edit to be reported', async () => {
    const st = await status();
    return st.manifest.generation > before && st.manifest.problems.length > 0 && st;
  });
  t.is(s.manifest.entries, 2, 'last good entries kept');
  const human = await pald!.pal('status');
  t.regex(human.stdout, /problem .*secrets\.yaml/);
  t.is(await readsAs(reader, 'db-password'), expected);
  await writeFile(tmp, good);
  await rename(tmp, pald!.manifest);
  await waitFor('the manifest to be good again', async () => (await status()).manifest.problems.length === 0);
});

test.serial('a corrupt ciphertext gives EIO for that secret only', async (t) => {
  await writeFile(join(dirname(pald!.manifest), 'garbage.pgp'), randomBytes(512));
  await editManifest((doc) =>
    doc.setIn(['secrets', 'garbage'], doc.createNode({ file: 'garbage.pgp', labels: ['demo'] })),
  );
  const cat = await waitFor('garbage to be listed and fail', async () => {
    const r = await exec(reader, 'cat', '/run/pal/garbage');
    return /I\/O error|Input\/output error/.test(r.stderr) && r;
  });
  t.not(cat.code, 0);
  t.truthy(await readsAs(reader, 'db-password'));
  const audit = JSON.parse((await pald!.pal('audit', '--json', '-n', '1000')).stdout) as {
    secret?: string;
    decision: string;
  }[];
  t.true(audit.some((e) => e.secret === 'garbage' && e.decision === 'error'));
});

test.serial(
  'a second pald on a mountpoint that is being served refuses to start, and leaves the first alone',
  async (t) => {
    // The same config: the first pald holds the lock next to its admin socket (src/daemon/single-instance.ts).
    const second = await runCommand(process.execPath, [PALD_JS, '--config', pald!.configPath], { timeoutMs: 60_000 });
    t.is(second.code, 1);
    t.regex(second.stderr, /pald: cannot start: another pald is running \(it holds .*pald\.lock\)/);
    // Another admin socket, the same mountpoint: the live FUSE mount there refuses it.
    const doc = parseDocument(await readFile(pald!.configPath, 'utf8'));
    const elsewhere = join(dirname(pald!.configPath), 'second-run');
    doc.setIn(['admin', 'socket'], join(elsewhere, 'admin.sock'));
    const secondConfig = join(dirname(pald!.configPath), 'second.yaml');
    await writeFile(secondConfig, doc.toString());
    const third = await runCommand(process.execPath, [PALD_JS, '--config', secondConfig], { timeoutMs: 60_000 });
    t.is(third.code, 1);
    t.regex(third.stderr, /pald: cannot start: .*live FUSE filesystem.*another pald/);
    t.truthy(await readsAs(reader, 'db-password'), 'the first pald still serves');
    const status = await pald!.pal('status');
    t.is(status.code, 0, 'the first pald still answers on its admin socket');
  },
);

test.serial('pald killed with SIGKILL and restarted: the running rslave container reads again', async (t) => {
  const expected = await readsAs(reader, 'db-password');
  t.truthy(expected);
  await pald!.kill();
  const during = await exec(reader, 'cat', '/run/pal/db-password');
  t.not(during.code, 0, 'no pald, no secret');
  await pald!.start();
  t.is(await waitFor('the container to read through the new mount', () => readsAs(reader, 'db-password')), expected!);
  // A container started under the second pald follows a clean restart too, as does the first.
  const image = (await dockerd!.docker('inspect', '-f', '{{.Image}}', reader)).trim();
  await dockerd!.docker(
    'run',
    '-d',
    '--name',
    'late',
    '--network',
    'none',
    '-v',
    `${pald!.mountpoint}:/run/pal:ro,rslave`,
    image,
    'sleep',
    '3600',
  );
  containers.push('late');
  t.is(await readsAs('late', 'db-password'), expected);
  await pald!.stop();
  t.not((await exec('late', 'cat', '/run/pal/db-password')).code, 0, 'stopped pald serves nothing');
  await pald!.start();
  t.is(await waitFor('read after a clean restart', () => readsAs(reader, 'db-password')), expected!);
  t.is(await waitFor('late container reads after a clean restart', () => readsAs('late', 'db-password')), expected!);
});
