import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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

async function scratch(): Promise<{ dir: string; done: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'pal-single-'));
  return { dir, done: () => rm(dir, { recursive: true, force: true }) };
}

function listen(path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((s) => s.destroy());
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}

test('a socket somebody listens on is live, and pald refuses to start beside it', async (t) => {
  const { dir, done } = await scratch();
  const path = join(dir, 'admin.sock');
  const server = await listen(path);
  try {
    t.is(await probeAdminSocket(path), 'live');
    const err = await t.throwsAsync(refuseIfAnotherPald(path), { instanceOf: StartupError });
    t.true(err.message.includes(path));
    t.regex(err.message, /another pald is running/);
  } finally {
    await new Promise((r) => server.close(r));
    await done();
  }
});

test('no socket at all: absent, and pald may start', async (t) => {
  const { dir, done } = await scratch();
  try {
    const path = join(dir, 'admin.sock');
    t.is(await probeAdminSocket(path), 'absent');
    await t.notThrowsAsync(refuseIfAnotherPald(path));
  } finally {
    await done();
  }
});

test('a path nobody listens on (left by a pald that died) is stale, and pald may start', async (t) => {
  const { dir, done } = await scratch();
  try {
    const path = join(dir, 'admin.sock');
    await writeFile(path, '');
    t.is(await probeAdminSocket(path), 'stale');
    await t.notThrowsAsync(refuseIfAnotherPald(path));
  } finally {
    await done();
  }
});

test('the instance lock: the first claim holds it, a second is refused until the first lets go', async (t) => {
  const { dir, done } = await scratch();
  const socket = join(dir, 'run', 'admin.sock'); // the run dir does not exist yet: the claim makes it
  try {
    const first = await claimInstance(native, socket);
    t.true(first >= 0);
    const err = await t.throwsAsync(claimInstance(native, socket), { instanceOf: StartupError });
    t.true(err.message.includes(instanceLockPath(socket)), err.message);
    t.regex(err.message, /another pald is running/);
    native.closeFd(first);
    const again = await claimInstance(native, socket);
    t.true(again >= 0);
    native.closeFd(again);
  } finally {
    await done();
  }
});

test('lockExclusive refuses a lock path that is a symlink, rather than lock what it points to', async (t) => {
  const { dir, done } = await scratch();
  try {
    const { symlink } = await import('node:fs/promises');
    await writeFile(join(dir, 'target'), '');
    await symlink(join(dir, 'target'), join(dir, 'pald.lock'));
    t.throws(() => native.lockExclusive(join(dir, 'pald.lock')), { message: /ELOOP|symbolic links/i });
  } finally {
    await done();
  }
});
