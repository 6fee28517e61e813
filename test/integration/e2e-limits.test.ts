// End to end: a hostile container holding 20,000 open files on secrets and on .pal/status makes
// pald lock no more than limits.locked_bytes, gets ENFILE beyond limits.open_handles_per_container,
// and another container keeps reading (SPEC §3 `limits`, §4).

import test from 'ava';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { startDockerd, type TestDockerd } from '../../scripts/components/dockerd.js';
import { startPald, runCommand, type TestPald } from '../helpers/pald.js';
import { waitFor } from '../helpers/wait.js';

const HANDLES = 20_000;
const HANDLES_PER_CONTAINER = 1024;
const LOCKED_BYTES = 8 * 1024 * 1024;
const ENFILE = 23;

// Opens the given paths round-robin `n` times and keeps every descriptor it got; prints how many
// it holds and how many opens failed with which errno, then waits to be killed. Static: the
// images are busybox only.
const HOLDER_C = `
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int n = atoi(argv[1]), held = 0, failed[256] = {0};
  for (int i = 0; i < n; i++) {
    int fd = open(argv[2 + i % (argc - 2)], O_RDONLY);
    if (fd >= 0) held++;
    else failed[errno & 255]++;
  }
  char first[32] = "";
  if (held > 0 && read(3, first, sizeof first - 1) < 0) first[0] = 0;
  printf("{\\"held\\":%d,\\"first\\":\\"%s\\",\\"failed\\":{", held, first);
  for (int e = 0, sep = 0; e < 256; e++)
    if (failed[e]) printf("%s\\"%d\\":%d", sep++ ? "," : "", e, failed[e]);
  printf("}}\\n");
  fflush(stdout);
  for (;;) pause();
}
`;

const secretText = `limits-${randomBytes(8).toString('hex')}`;
const otherText = `other-${randomBytes(8).toString('hex')}`;

let dockerd: TestDockerd | undefined;
let pald: TestPald | undefined;
let buildDir = '';
const containers: string[] = [];

/** Our hard RLIMIT_NOFILE: dockerd inherits it, and a container cannot be given more. */
async function nofileHardLimit(): Promise<number> {
  const limits = await readFile('/proc/self/limits', 'utf8');
  const hard = /^Max open files\s+\S+\s+(\S+)/m.exec(limits)?.[1];
  return hard === undefined || hard === 'unlimited' ? HANDLES + 100 : Math.min(Number(hard), HANDLES + 100);
}

async function vmLckKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmLck:\s+(\d+) kB$/m.exec(status)?.[1]);
}

test.before(async () => {
  buildDir = await mkdtemp(join(tmpdir(), 'pal-limits-'));
  await writeFile(join(buildDir, 'holder.c'), HOLDER_C);
  await promisify(execFile)('gcc', ['-static', '-O2', '-o', join(buildDir, 'holder'), join(buildDir, 'holder.c')]);
  dockerd = await startDockerd();
  pald = await startPald({ dockerHost: dockerd.host });
  // The helper writes the defaults; this test sets locked_bytes low enough that one copy per
  // handle (what pald did before) would blow through it, and restarts pald to apply it.
  const config = parse(await readFile(pald.configPath, 'utf8')) as Record<string, unknown>;
  config.limits = {
    open_handles_per_container: HANDLES_PER_CONTAINER,
    locked_bytes: LOCKED_BYTES,
    secret_bytes: 1024 * 1024,
  };
  await writeFile(pald.configPath, stringify(config));
  await pald.stop();
  await pald.start();
  await pald.seal('app-token', ['limits'], secretText);
  await pald.seal('app-other', ['limits'], otherText);
  await waitFor('pald to load the secrets', async () => {
    const r = await pald!.pal('secrets', '--json');
    return r.code === 0 && (JSON.parse(r.stdout) as unknown[]).length === 2;
  });
});

test.after.always(async () => {
  for (const c of containers) await dockerd?.docker('rm', '-f', c).catch(() => {});
  await pald?.cleanup();
  await dockerd?.cleanup();
  if (buildDir) await rm(buildDir, { recursive: true, force: true });
});

test('20,000 fds on secrets and .pal/status: ENFILE past the per-container limit, VmLck under locked_bytes, a neighbour still reads', async (t) => {
  const image = await dockerd!.importBusyboxImage('pal-e2e/limits:1', { 'pal.labels': 'limits' });
  const mount = ['-v', `${pald!.mountpoint}:/run/pal:ro,rslave`];
  const lockedBefore = await vmLckKb(pald!.pid);

  // The hog: its main process is the holder, with room for (nearly) 20,000 descriptors.
  const nofile = await nofileHardLimit();
  await dockerd!.docker(
    'create',
    '--name',
    'hog',
    '--network',
    'none',
    '--ulimit',
    `nofile=${nofile}:${nofile}`,
    ...mount,
    image,
    '/bin/holder',
    String(HANDLES),
    '/run/pal/app-token',
    '/run/pal/app-other',
    '/run/pal/.pal/status',
  );
  containers.push('hog');
  await dockerd!.docker('cp', join(buildDir, 'holder'), 'hog:/bin/holder');
  await dockerd!.docker('run', '-d', '--name', 'neighbour', '--network', 'none', ...mount, image, 'sleep', '3600');
  containers.push('neighbour');
  await dockerd!.docker('start', 'hog');
  const report = await waitFor(
    'the hog to report',
    async () => {
      const out = (await dockerd!.docker('logs', 'hog')).trim();
      return out ? (JSON.parse(out) as { held: number; first: string; failed: Record<string, number> }) : undefined;
    },
    { timeoutMs: 300_000, intervalMs: 200 },
  );

  t.is(report.held, HANDLES_PER_CONTAINER, 'the hog holds exactly its handle limit');
  t.deepEqual(report.failed, { [ENFILE]: HANDLES - HANDLES_PER_CONTAINER }, 'every open beyond it: ENFILE');
  t.is(report.first, secretText, 'what it holds still reads');

  const locked = await vmLckKb(pald!.pid);
  t.true(
    locked * 1024 < LOCKED_BYTES,
    `pald's VmLck ${locked} kB (before: ${lockedBefore} kB) stays under locked_bytes (${LOCKED_BYTES / 1024} kB)`,
  );

  // While the hog holds all that, the neighbour opens and reads, secrets and .pal/ files.
  const read = await runCommand('docker', [
    '-H',
    dockerd!.host,
    'exec',
    'neighbour',
    'cat',
    '/run/pal/app-token',
    '/run/pal/app-other',
  ]);
  t.is(read.code, 0, read.stderr);
  t.is(read.stdout, secretText + otherText);
  const whoami = await runCommand('docker', [
    '-H',
    dockerd!.host,
    'exec',
    'neighbour',
    'cat',
    '/run/pal/.pal/whoami.json',
  ]);
  t.is(whoami.code, 0, whoami.stderr);

  const status = JSON.parse((await pald!.pal('status', '--json')).stdout) as {
    memory: { openHandles: number; lockedBytes: number };
  };
  t.is(status.memory.openHandles, HANDLES_PER_CONTAINER, 'pal status counts the hog’s handles');
  t.true(
    status.memory.lockedBytes <= 2 * 4096,
    `two one-page plaintexts, each locked once: ${status.memory.lockedBytes}`,
  );

  // Once the hog is gone, its handles are released.
  await dockerd!.docker('rm', '-f', 'hog');
  await waitFor(
    'the hog’s handles to be released',
    async () => {
      const s = JSON.parse((await pald!.pal('status', '--json')).stdout) as { memory: { openHandles: number } };
      return s.memory.openHandles === 0;
    },
    { timeoutMs: 60_000 },
  );
  t.pass();
});
