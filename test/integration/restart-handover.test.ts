// Restarts that change nothing for running containers (issue 17, docs/operations.md "Restarts"):
// with pald-holder keeping /dev/fuse, a real container reads a secret through /run/pal in a loop
// while pald is restarted 20 times with SIGTERM and 20 times with SIGKILL. The mount table (host
// and container) is the same before and after, and reads do not fail.
//
// Without the handover (no holder) each restart stacks a layer and the reads in the gap fail with
// ENOTCONN: the mount comparisons and the failure counts below then fail.

import test from 'ava';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startDockerd, type TestDockerd } from '../../scripts/components/dockerd.js';
import { startPald, runCommand, type TestPald } from '../helpers/pald.js';
import { waitFor } from '../helpers/wait.js';

const RESTARTS = Number(process.env.PAL_TEST_RESTARTS ?? 20);
// PAL_TEST_NO_HOLDER=1: the same test without pald-holder (today's fallback), to see it fail.
const withoutHolder = process.env.PAL_TEST_NO_HOLDER === '1';
const secret = `handover-${randomBytes(12).toString('hex')}`;
const container = `pal-handover-${randomBytes(4).toString('hex')}`;
let dockerd: TestDockerd | undefined;
let pald: TestPald | undefined;

function exec(...cmd: string[]) {
  return runCommand('docker', ['-H', dockerd!.host, 'exec', container, ...cmd]);
}

/** The reader's counters: "ok fail" after each batch of reads. */
async function counts(): Promise<{ ok: number; fail: number }> {
  const r = await exec('cat', '/tmp/progress');
  const [ok, fail] = r.stdout.trim().split(' ').map(Number);
  return { ok: ok ?? 0, fail: fail ?? 0 };
}

/** Mount lines for pald's mountpoint and staging dir, as the host sees them. */
async function hostMounts(): Promise<string> {
  const paths = [pald!.mountpoint, join(pald!.dir, 'run', 'fs')];
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const lines = text.split('\n').filter((l) => paths.includes(l.split(' ')[4] ?? ''));
  const findmnt = await runCommand('findmnt', ['-n', '-o', 'ID,TARGET,SOURCE,FSTYPE,MAJ:MIN', pald!.mountpoint]);
  return [...lines, findmnt.stdout.trim()].join('\n');
}

async function containerMounts(): Promise<string> {
  const r = await exec('cat', '/proc/self/mountinfo');
  return r.stdout
    .split('\n')
    .filter((l) => l.split(' ')[4] === '/run/pal')
    .join('\n');
}

/** Restarts pald with `signal` and waits for the reader to get through another batch. */
async function restart(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  await pald!.signal(signal);
  await pald!.start();
  const { ok } = await counts();
  await waitFor(`reads after a ${signal} restart`, async () => (await counts()).ok > ok + 20, { timeoutMs: 20_000 });
}

test.before(async () => {
  dockerd = await startDockerd();
  const image = await dockerd.importBusyboxImage('pal-e2e/handover:1', { 'pal.labels': 'demo' });
  pald = await startPald({ dockerHost: dockerd.host, holder: !withoutHolder });
  await pald.seal('s', ['demo'], secret);
  await dockerd.docker(
    'run',
    '-d',
    '--name',
    container,
    '--network',
    'none',
    '-v',
    `${pald.mountpoint}:/run/pal:ro,rslave`,
    image,
    'sleep',
    '3600',
  );
  // Reads the secret over and over; every 10 reads, writes "ok fail" to /tmp/progress.
  const loop =
    'ok=0; fail=0; while [ ! -e /tmp/stop ]; do ' +
    `if [ "$(cat /run/pal/s 2>>/tmp/errors)" = "${secret}" ]; then ok=$((ok+1)); else fail=$((fail+1)); fi; ` +
    'if [ $(( (ok + fail) % 10 )) -eq 0 ]; then echo "$ok $fail" > /tmp/progress.new; mv /tmp/progress.new /tmp/progress; fi; ' +
    'done; echo "$ok $fail" > /tmp/progress; touch /tmp/done';
  const started = await runCommand('docker', ['-H', dockerd.host, 'exec', '-d', container, 'sh', '-c', loop]);
  if (started.code !== 0) throw new Error(started.stderr);
  await waitFor('the reader to read', async () => (await counts()).ok > 20, { timeoutMs: 30_000 });
});

test.after.always(async () => {
  await dockerd?.docker('rm', '-f', container).catch(() => {});
  await pald?.cleanup(); // stops pald-holder first, then pald, by pid
  await dockerd?.cleanup();
});

test.serial('pal status says the mount is handed over by the holder', async (t) => {
  const r = await pald!.pal('status');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /restart\s+handover \(holder\)/);
});

test.serial(`${RESTARTS} SIGTERM restarts: no failed read, the same mounts`, async (t) => {
  const host = await hostMounts();
  const inside = await containerMounts();
  const before = await counts();
  const t0 = Date.now();
  for (let i = 0; i < RESTARTS; i++) await restart('SIGTERM');
  t.log(`SIGTERM restarts took ${Date.now() - t0} ms`);
  const after = await counts();
  t.log(`SIGTERM: ${after.ok - before.ok} reads, ${after.fail - before.fail} failed, over ${RESTARTS} restarts`);
  t.is(after.fail - before.fail, 0, (await exec('cat', '/tmp/errors')).stdout);
  t.is(await hostMounts(), host);
  t.is(await containerMounts(), inside);
  const status = JSON.parse((await pald!.pal('status', '--json')).stdout) as { restart: Record<string, unknown> };
  t.like(status.restart, { mode: 'handover (holder)', resumed: true, generation: RESTARTS + 1 });
});

test.serial(`${RESTARTS} SIGKILL restarts: the same mounts, 0 failed reads where the kernel can resend`, async (t) => {
  const host = await hostMounts();
  const inside = await containerMounts();
  const before = await counts();
  const t0 = Date.now();
  for (let i = 0; i < RESTARTS; i++) await restart('SIGKILL');
  t.log(`SIGKILL restarts took ${Date.now() - t0} ms`);
  const after = await counts();
  const failed = after.fail - before.fail;
  t.log(`SIGKILL: ${after.ok - before.ok} reads, ${failed} failed, over ${RESTARTS} restarts`);
  t.is(await hostMounts(), host);
  t.is(await containerMounts(), inside);
  // Requests the killed pald had read come back with FUSE_NOTIFY_RESEND (Linux >= 6.9); reads on
  // a file it had opened are served from a new open for the same caller.
  const status = JSON.parse((await pald!.pal('status', '--json')).stdout) as { restart: { resend: number } };
  t.log(`restart status after the kills: ${JSON.stringify(status.restart)}`);
  if (status.restart.resend === 1) t.is(failed, 0, (await exec('cat', '/tmp/errors')).stdout);
  else t.true(failed <= RESTARTS, 'at most the read in flight at each kill');
});
