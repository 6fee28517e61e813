// pald under systemd's Type=notify contract: a real unix datagram socket (a python3 receiver stands
// in for systemd, which cannot run here as pid 1) gets READY=1 once the mount is usable,
// RELOADING=1 then READY=1 around a SIGHUP, and STOPPING=1 at SIGTERM; the FUSE descriptor goes to the fd
// store (FDSTORE=1, FDNAME=pal-fuse) before READY=1, for restarts without a new mount.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPald } from '../helpers/pald.js';
import { waitFor } from '../helpers/wait.js';

const PYTHON = '/usr/bin/python3';
// Prints each datagram as one JSON line, like systemd's notify socket would receive it.
const RECEIVER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    print(json.dumps(s.recv(4096).decode()), flush=True)
`;

test('pald sends READY=1 when the mount is usable, RELOADING/READY on SIGHUP, STOPPING=1 on SIGTERM', async (t) => {
  if (!existsSync(PYTHON)) return t.fail(`${PYTHON} missing (scripts/install-deps.sh installs python3)`);
  const dir = await mkdtemp(join(tmpdir(), 'pal-notify-'));
  const socketPath = join(dir, 'notify.sock');
  const receiver = spawn(PYTHON, ['-c', RECEIVER, socketPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  const messages: string[] = [];
  let buffered = '';
  receiver.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      messages.push(JSON.parse(buffered.slice(0, nl)) as string);
      buffered = buffered.slice(nl + 1);
    }
  });
  t.teardown(async () => {
    receiver.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });
  await waitFor('the notify socket', async () => existsSync(socketPath), { timeoutMs: 10_000 });

  // No dockerd is needed to mount: attribution asks the runtime only when a container calls.
  const pald = await startPald({
    dockerHost: `unix://${join(dir, 'no-docker.sock')}`,
    env: { NOTIFY_SOCKET: socketPath },
  });
  t.teardown(() => pald.cleanup());

  // The FUSE descriptor goes to systemd's fd store (restart handover) on a message of its own.
  const lifecycle = (): string[] => messages.filter((m) => !m.startsWith('FDSTORE'));
  const ready = await waitFor('READY=1', async () => messages.find((m) => m.startsWith('READY=1')));
  t.true(
    messages.indexOf('FDSTORE=1\nFDNAME=pal-fuse') >= 0 &&
      messages.indexOf('FDSTORE=1\nFDNAME=pal-fuse') < messages.indexOf(ready),
    `the session's descriptor is stored before READY=1: ${JSON.stringify(messages)}`,
  );
  t.true(pald.output().includes('pald: ready on '), 'READY=1 comes after the ready line');
  t.true(ready.includes(`\nMAINPID=${pald.pid}`), ready);
  t.true(ready.includes(`STATUS=serving ${pald.mountpoint}`), ready);

  process.kill(pald.pid, 'SIGHUP');
  await waitFor('RELOADING=1 then READY=1', async () => lifecycle().length >= 3);
  t.regex(lifecycle()[1]!, /^RELOADING=1\nMONOTONIC_USEC=\d+$/);
  t.regex(lifecycle()[2]!, /^READY=1\nSTATUS=serving .* \(reloaded\)/);

  // SIGTERM with the descriptor in the (stand-in) fd store hands the mount over instead of unmounting
  // it, as under systemd; the helper's cleanup removes what is left.
  await pald.signal('SIGTERM');
  await waitFor('STOPPING=1', async () => messages.includes('STOPPING=1'));
  t.is(lifecycle().length, 4, JSON.stringify(messages));
});
