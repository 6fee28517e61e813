// One pald per admin socket (docs/operations.md "Restarts"). A second pald started by hand beside
// a running one must not take the running one's /dev/fuse descriptor from pald-holder, nor replace
// its admin socket: it exits with a reason, and the first keeps serving as before.

import test from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { instanceLockPath } from '../../src/daemon/single-instance.js';
import * as native from '../../src/native/index.js';
import { PALD_JS, startPald } from '../helpers/pald.js';
import { waitFor } from '../helpers/wait.js';

/** Runs a second pald on `configPath`; resolves with its exit code and output (killed after 30 s). */
function secondPald(configPath: string): Promise<{ code: number | null; output: string; pid: number }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [PALD_JS, '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => c.kill('SIGTERM'), 30_000);
    c.stdout.on('data', (b: Buffer) => (output += b.toString('utf8')));
    c.stderr.on('data', (b: Buffer) => (output += b.toString('utf8')));
    c.once('error', reject);
    c.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output, pid: c.pid ?? -1 });
    });
  });
}

test('a second pald on the same admin socket is refused; the first keeps its mount, socket and holder', async (t) => {
  const scratch = await mkdtemp(join(tmpdir(), 'pal-single-it-'));
  const pald = await startPald({
    dockerHost: `unix://${join(scratch, 'no-docker.sock')}`,
    hostAllowUids: [0],
    holder: true,
  });
  try {
    const value = randomBytes(48);
    await pald.seal('s', ['a'], value);
    await waitFor('pald to serve the sealed secret', async () =>
      readFile(join(pald.mountpoint, 's')).then(
        (b) => b.equals(value),
        () => false,
      ),
    );

    const second = await secondPald(pald.configPath);
    t.not(second.code, 0, second.output);
    t.regex(second.output, /another pald .*is running/i);
    t.notRegex(second.output, /pald: ready on /);

    // The first pald still answers on its socket and still serves; the holder still keeps its
    // session, so a restart hands the mount over as before.
    const status = await pald.pal('status');
    t.is(status.code, 0, status.stderr);
    t.regex(status.stdout, new RegExp(`\\(pid ${pald.pid},`));
    t.regex(status.stdout, /restart\s+handover \(holder\)/);
    t.true((await readFile(join(pald.mountpoint, 's'))).equals(value));
    await pald.signal('SIGTERM');
    await pald.start();
    t.regex(pald.output(), /resuming the mount of the previous pald \(kept by holder/);
    t.true((await readFile(join(pald.mountpoint, 's'))).equals(value));

    // A pald still starting (its admin socket not bound yet) holds its lock from the first moment:
    // here the test holds it, and the next pald waits for nobody's socket but is refused all the same.
    await pald.signal('SIGTERM');
    const lock = native.lockExclusive(instanceLockPath(pald.adminSocket));
    t.not(lock, undefined, 'the lock is free once pald has stopped');
    const refused = await pald.start().then(
      () => 'started',
      (err: unknown) => String(err),
    );
    t.regex(refused, /another pald is running \(it holds .*pald\.lock\)/);
    native.closeFd(lock!);
    await pald.start();
    t.true((await readFile(join(pald.mountpoint, 's'))).equals(value), 'the session kept by the holder resumes');
  } finally {
    await pald.cleanup();
    await rm(scratch, { recursive: true, force: true });
  }
});
