// Process-level parts of the addon: mlock failure reported, SO_PEERCRED of a real peer,
// PR_SET_DUMPABLE.
import { closeSync, openSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import test from 'ava';

import { isDumpable, peerCredentials, setDumpable } from '../../src/native/index.js';
import { NOBODY, runChild, startChild } from './native-fixture.js';
import { copyForAnyUid } from '../helpers/unprivileged.js';

const ADDON = fileURLToPath(new URL('../../../native/build/Release/pal_native.node', import.meta.url));

test('allocSecureBuffer reports an mlock failure instead of handing out unlocked memory', async (t) => {
  // As root, CAP_IPC_LOCK ignores RLIMIT_MEMLOCK: run as nobody with a zero memlock limit. The
  // child loads a copy of the addon from a dir any uid can read (the checkout may be under /root),
  // and says so before allocating, so only the mlock refusal can satisfy the assertions.
  const { paths } = await copyForAnyUid(t, [ADDON]);
  const script = `const m = { exports: {} };
    process.dlopen(m, process.argv[1]);
    console.log('loaded');
    try { m.exports.sbAlloc(4096); console.log('allocated'); }
    catch (e) { console.log(JSON.stringify({ code: e.code, errno: e.errno, message: e.message })); }`;
  const r = await runChild(t, 'prlimit', [
    '--memlock=0:0',
    'setpriv',
    ...NOBODY,
    process.execPath,
    '-e',
    script,
    paths.get('pal_native.node')!,
  ]);
  t.is(r.code, 0, r.stderr.toString());
  const [loaded, result] = r.stdout.toString().trim().split('\n');
  t.is(loaded, 'loaded');
  const out = JSON.parse(result!) as { code: string; errno: number; message: string };
  t.is(out.code, 'ERR_PAL_MLOCK');
  t.true(out.errno === 12 || out.errno === 1, `ENOMEM or EPERM, got ${out.errno}`);
  t.regex(out.message, /mlock of 4096 bytes failed.*RLIMIT_MEMLOCK/);
});

test('peerCredentials returns the connected peer process (another uid)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pal-peer-'));
  await chmod(dir, 0o777);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const sock = join(dir, 'admin.sock');
  let resolveSeen!: (c: { pid: number; uid: number; gid: number }) => void;
  let rejectSeen!: (err: unknown) => void;
  const seen = new Promise<{ pid: number; uid: number; gid: number }>(
    (res, rej) => ((resolveSeen = res), (rejectSeen = rej)),
  );
  const server = createServer((s: Socket) => {
    try {
      resolveSeen(peerCredentials((s as unknown as { _handle: { fd: number } })._handle.fd));
    } catch (err) {
      rejectSeen(err);
    }
    s.end('bye\n');
  });
  t.teardown(() => server.close());
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  await chmod(sock, 0o777);
  const script = `const s = require('node:net').connect(process.argv[1]); s.on('data', () => s.end());`;
  const child = startChild(t, 'setpriv', [...NOBODY, process.execPath, '-e', script, sock]);
  const creds = await seen;
  t.deepEqual(creds, { pid: child.pid, uid: 65534, gid: 65534 });
  t.is((await child.done).code, 0);
});

test('peerCredentials on a non-socket fd is an error with errno', (t) => {
  const fd = openSync('/proc/self/status', 'r');
  t.teardown(() => closeSync(fd));
  t.throws(() => peerCredentials(fd), { code: 'ERR_PAL_PEERCRED' });
  t.throws(() => peerCredentials(-1), { code: 'ERR_PAL_ARGS' });
});

test('setDumpable toggles PR_SET_DUMPABLE', (t) => {
  const before = isDumpable();
  t.teardown(() => setDumpable(before));
  setDumpable(false);
  t.false(isDumpable());
  setDumpable(true);
  t.true(isDumpable());
});
