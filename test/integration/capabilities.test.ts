// The capability set docker/pald.service bounds pald to, measured: with CAP_SYS_ADMIN alone
// (setpriv --bounding-set, as systemd's CapabilityBoundingSet= does) pald mounts and serves; a
// host caller is then `unknown` (its /proc/<pid>/ns cannot be read), and CAP_SYS_PTRACE is what
// host.allow_uids needs on top.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { PALD_JS, startPald } from '../helpers/pald.js';
import { waitFor } from '../helpers/wait.js';

const SETPRIV = '/usr/bin/setpriv';

async function paldBoundedTo(caps: string, t: import('ava').ExecutionContext) {
  const pald = await startPald({ dockerHost: 'unix:///nonexistent/docker.sock', hostAllowUids: [0] });
  t.teardown(() => pald.cleanup());
  await pald.seal('s1', ['demo'], 'hello');
  await pald.stop();
  const child = spawn(
    SETPRIV,
    [
      '--bounding-set=-all,' + caps,
      '--inh-caps=-all',
      '--no-new-privs',
      process.execPath,
      PALD_JS,
      '--config',
      pald.configPath,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise((r) => child.once('exit', r));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  await waitFor(`pald bounded to ${caps} ready`, async () => {
    if (child.exitCode !== null) throw new Error(`pald exited ${child.exitCode}:\n${log}`);
    return log.includes('pald: ready on ');
  });
  const whoami = JSON.parse(readFileSync(`${pald.mountpoint}/.pal/whoami.json`, 'utf8')) as { kind: string };
  let read: string;
  try {
    read = readFileSync(`${pald.mountpoint}/s1`, 'utf8');
  } catch (err) {
    read = (err as NodeJS.ErrnoException).code ?? 'error';
  }
  child.kill('SIGTERM');
  await exited;
  return { kind: whoami.kind, read, exitCode: child.exitCode };
}

test('CAP_SYS_ADMIN alone: pald mounts, serves and stops cleanly; host callers are unknown', async (t) => {
  if (!existsSync(SETPRIV)) return t.fail(`${SETPRIV} missing (util-linux)`);
  const r = await paldBoundedTo('+sys_admin', t);
  t.deepEqual(r, { kind: 'unknown', read: 'EACCES', exitCode: 0 });
});

test('CAP_SYS_ADMIN + CAP_SYS_PTRACE: a host caller in host.allow_uids reads', async (t) => {
  if (!existsSync(SETPRIV)) return t.fail(`${SETPRIV} missing (util-linux)`);
  const r = await paldBoundedTo('+sys_admin,+sys_ptrace', t);
  t.deepEqual(r, { kind: 'host', read: 'hello', exitCode: 0 });
});
