// A Red October secret in the host manifest without `size:` reads whole the first time through a
// real FUSE mount and a real Red October server: busybox cat (sendfile, which ends at the size the
// kernel was told even on a direct-I/O handle) by a process that never stat'ed it. Before the
// first decrypt the file shows the ciphertext's length (a bound read without decrypting), after it
// the exact size. No containers: the host caller (uid 0) reads.

import test from 'ava';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { startPald, runCommand, PAL_JS, type TestPald } from '../helpers/pald.js';
import { waitFor } from '../helpers/wait.js';
import { startRedOctober, type TestRedOctober } from '../../scripts/components/redoctober.js';

const PW = `pw-${randomBytes(8).toString('hex')}`;
const OWNERS = ['alice', 'bob'];
const values: Record<string, string> = {
  fresh: `ro-first-read-${randomBytes(16).toString('hex')}\n`,
  statted: `ro-first-read-${randomBytes(700).toString('base64')}\n`,
};

let ro: TestRedOctober | undefined;
let pald: TestPald | undefined;

function busyboxCat(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('busybox', ['cat', path], { timeout: 30_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`busybox cat ${path}: ${err.message} ${stderr}`)) : resolve(stdout),
    );
  });
}

async function sealRo(name: string): Promise<void> {
  const args = ['seal', '--name', name, '--ro', '--owners', OWNERS.join(','), '--minimum', '2',
    '--ro-server', ro!.url, '--ro-ca', ro!.caFile, '--ro-user', 'admin', '--manifest', pald!.manifest,
    '--label', 'billing']; // prettier-ignore
  const r = await runCommand(process.execPath, [PAL_JS, ...args], {
    input: values[name]!,
    env: { ...process.env, PAL_RO_PASSWORD: PW },
  });
  if (r.code !== 0) throw new Error(`pal seal --ro ${name}: ${r.stderr}`);
}

test.before(async () => {
  ro = await startRedOctober();
  await ro.call('/create', { Name: 'admin', Password: PW });
  for (const u of [...OWNERS, 'host1'])
    await ro.call('/create-user', { Name: u, Password: u === 'host1' ? `${PW}-host` : PW, UserType: 'ECC' });
  const passwordFile = join(ro.dir, 'host1-password'); // a private temp dir: File safety holds
  await writeFile(passwordFile, `${PW}-host\n`, { mode: 0o600 });
  pald = await startPald({
    dockerHost: `unix://${join(ro.dir, 'no-docker.sock')}`, // Docker is never asked: host callers only
    hostAllowUids: [0],
    extraConfig: { redoctober: { server: ro.url, ca: ro.caFile, user: 'host1', password_file: passwordFile } },
  });
  for (const name of Object.keys(values)) await sealRo(name);
  // As a hand-written manifest has it: no size: (pal seal records one).
  const doc = parseDocument(await readFile(pald.manifest, 'utf8'));
  for (const name of Object.keys(values)) doc.deleteIn(['secrets', name, 'size']);
  await writeFile(`${pald.manifest}.tmp`, doc.toString(), { mode: 0o644 });
  await rename(`${pald.manifest}.tmp`, pald.manifest);
  await waitFor('pald to serve the ro: entries without size:', async () => {
    const r = await pald!.pal('secrets', '--json');
    const list = r.code === 0 ? (JSON.parse(r.stdout) as { size: number | null }[]) : [];
    return list.length === 2 && list.every((e) => e.size === null);
  });
  for (const owner of OWNERS)
    await ro.call('/delegate', {
      Name: owner,
      Password: PW,
      Uses: 10,
      Time: '1h',
      Users: ['host1'],
      Labels: ['billing'],
    });
});

test.after.always(async () => {
  await pald?.cleanup();
  await ro?.cleanup();
});

for (const [name, statFirst] of [
  ['fresh', false],
  ['statted', true],
] as const) {
  test.serial(`first busybox cat is whole (${statFirst ? 'stat first' : 'never stat-ed'})`, async (t) => {
    const path = join(pald!.mountpoint, name);
    const value = values[name]!;
    if (statFirst) {
      const ciphertext = await stat(join(pald!.dir, 'etc', `${name}.ro`));
      t.is((await stat(path)).size, ciphertext.size, 'before the first decrypt: the ciphertext length');
    }
    t.is(await busyboxCat(path), value);
    t.is((await stat(path)).size, Buffer.byteLength(value), 'after the first decrypt: the exact size');
  });
}
