import test from 'ava';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as native from '../../../src/native/index.js';
import {
  claimInstance,
  instanceLockPath,
  probeAdminSocket,
  refuseIfAnotherPald,
} from '../../../src/daemon/single-instance.js';
import { StartupError } from '../../../src/daemon/startup.js';

/** Runs `body` with a fresh temp dir, removed afterwards whatever happens. */
async function inScratch(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pal-single-'));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function listen(path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((s) => s.destroy());
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}

test('a socket somebody listens on is live, and pald refuses to start beside it', (t) =>
  inScratch(async (dir) => {
    const path = join(dir, 'admin.sock');
    const server = await listen(path);
    try {
      t.is(await probeAdminSocket(path), 'live');
      const err = await t.throwsAsync(refuseIfAnotherPald(path), { instanceOf: StartupError });
      t.true(err.message.includes(path));
      t.regex(err.message, /another pald is running/);
    } finally {
      await new Promise((r) => server.close(r));
    }
  }));

test('no socket at all: absent, and pald may start', (t) =>
  inScratch(async (dir) => {
    const path = join(dir, 'admin.sock');
    t.is(await probeAdminSocket(path), 'absent');
    await t.notThrowsAsync(refuseIfAnotherPald(path));
  }));

test('a path nobody listens on (left by a pald that died) is stale, and pald may start', (t) =>
  inScratch(async (dir) => {
    const path = join(dir, 'admin.sock');
    await writeFile(path, '');
    t.is(await probeAdminSocket(path), 'stale');
    await t.notThrowsAsync(refuseIfAnotherPald(path));
  }));

test('the instance lock: the first claim holds it, a second is refused until the first lets go', (t) =>
  inScratch(async (dir) => {
    const socket = join(dir, 'run', 'admin.sock'); // the run dir does not exist yet: the claim makes it
    const first = await claimInstance(native, socket);
    t.true(first >= 0);
    const err = await t.throwsAsync(claimInstance(native, socket), { instanceOf: StartupError });
    t.true(err.message.includes(instanceLockPath(socket)), err.message);
    t.regex(err.message, /another pald is running/);
    native.closeFd(first);
    const again = await claimInstance(native, socket);
    t.true(again >= 0);
    native.closeFd(again);
  }));

test('lockExclusive refuses a lock path that is a symlink, rather than lock what it points to', (t) =>
  inScratch(async (dir) => {
    await writeFile(join(dir, 'target'), '');
    await symlink(join(dir, 'target'), join(dir, 'pald.lock'));
    t.throws(() => native.lockExclusive(join(dir, 'pald.lock')), { message: /ELOOP|symbolic links/i });
  }));
