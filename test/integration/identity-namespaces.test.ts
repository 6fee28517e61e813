// "host" means the host (SPEC §4): real processes in other pid or mount namespaces whose cgroups
// name no container (the shape ctr, Garden and rootless runtimes leave) are unknown, to the
// resolver and through a real pald's FUSE mount; a plain host process is host.

import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createIdentityResolver, type ResolverWithDiagnostics } from '../../src/identity/index.js';
import type { AuditEvent } from '../../src/audit/index.js';
import { runCommand, startPald, type TestPald } from '../helpers/pald.js';
import { waitFor } from '../helpers/wait.js';

const NO_DOCKER = 'unix:///nonexistent/docker.sock';
const spawned: ChildProcess[] = [];
let resolver: ResolverWithDiagnostics | undefined;
let pald: TestPald | undefined;

test.after.always(async () => {
  for (const child of spawned) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await resolver?.close();
  await pald?.cleanup();
});

const caller = (pid: number) => ({ pid, uid: 0, gid: 0 });
const ns = (pid: number | 'self', kind: 'pid' | 'mnt'): string => readlinkSync(`/proc/${pid}/ns/${kind}`);

function start(cmd: string, args: string[]): ChildProcess {
  const child = spawn(cmd, args, { stdio: 'ignore' });
  spawned.push(child);
  return child;
}

/** The pid of `parent`'s child running `comm` (found through /proc/<pid>/stat's ppid). */
function childOf(parent: number, comm: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      if (Number(fields[1]) === parent && stat.slice(stat.indexOf('(') + 1, close) === comm) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** `unshare -m sleep`: in a new mount namespace once unshare has exec'd sleep. */
async function inNewMountNamespace(): Promise<number> {
  const child = start('unshare', ['-m', '--propagation', 'unchanged', 'sleep', '300']);
  const pid = child.pid!;
  await waitFor(
    'unshare -m to exec sleep',
    async () => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep' && ns(pid, 'mnt') !== ns('self', 'mnt'),
  );
  return pid;
}

test.before(async () => {
  resolver = createIdentityResolver({ dockerHost: NO_DOCKER });
});

test('the resolver: a plain host process is host; the same in another mount or pid namespace is unknown', async (t) => {
  const plain = start('sleep', ['300']).pid!;
  t.like(await resolver!.resolve(caller(plain)), { kind: 'host', pid: plain });

  const mnt = await inNewMountNamespace();
  t.is(
    readFileSync(`/proc/${mnt}/cgroup`, 'utf8'),
    readFileSync(`/proc/${plain}/cgroup`, 'utf8'),
    'same cgroups as the host process',
  );
  const inMnt = await resolver!.resolve(caller(mnt));
  t.like(inMnt, { kind: 'unknown', pid: mnt });
  t.regex(inMnt.reason ?? '', /mount namespace mnt:\[\d+\], not pald's/);

  // -f: the sleep is unshare's child, pid 1 of a new pid namespace (and in pald's mount namespace).
  const parent = start('unshare', ['-p', '-f', 'sleep', '300']).pid!;
  const inner = await waitFor('the sleep in a new pid namespace', async () => childOf(parent, 'sleep'));
  t.is(ns(inner, 'mnt'), ns('self', 'mnt'));
  t.not(ns(inner, 'pid'), ns('self', 'pid'));
  const inPid = await resolver!.resolve(caller(inner));
  t.like(inPid, { kind: 'unknown', pid: inner });
  t.regex(inPid.reason ?? '', /pid namespace pid:\[\d+\], not pald's/);
});

test('through a real pald: an allowed host uid reads the secret; the same uid in another mount namespace gets EACCES, audited', async (t) => {
  pald = await startPald({ dockerHost: NO_DOCKER, hostAllowUids: [0] });
  await pald.seal('x', ['some-label'], 'host-only-value');
  const secret = join(pald.mountpoint, 'x');
  await waitFor('the manifest to list x', async () => (await pald!.pal('secrets', '--json')).stdout.includes('"x"'));

  const host = await runCommand('cat', [secret]);
  t.is(host.code, 0, host.stderr);
  t.is(host.stdout, 'host-only-value');

  // unshare -m copies the mount table, FUSE mount included: the lookup reaches pald from a process
  // in another mount namespace.
  const other = await runCommand('unshare', ['-m', '--propagation', 'unchanged', 'cat', secret]);
  t.not(other.code, 0);
  t.regex(other.stderr, /Permission denied/);
  t.false(other.stdout.includes('host-only-value'));

  await pald.stop();
  const lines = (await readFile(pald.auditPath, 'utf8'))
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as AuditEvent);
  t.true(lines.some((l) => l.decision === 'allow' && l.secret === 'x'));
  t.true(
    lines.some(
      (l) => l.decision === 'deny' && l.secret === 'x' && /mount namespace mnt:\[\d+\], not pald's/.test(l.reason),
    ),
  );
});
