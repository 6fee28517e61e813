// pald-holder's protocol over its real unix socket, with a real FUSE session's descriptor: root
// only (SO_PEERCRED), /dev/fuse only, a duplicate on GET, gone on DROP or when the mount ends.

import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, fstatSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as native from '../../src/native/index.js';
import type { FuseMount } from '../../src/native/index.js';
import { encodePayload } from '../../src/daemon/handover-payload.js';
import { runCommand } from '../helpers/pald.js';
import { AS_NOBODY } from '../helpers/unprivileged.js';
import { waitFor } from '../helpers/wait.js';
import { TestFs, mountTestFs } from './native-fixture.js';

const init = Uint8Array.from({ length: 104 }, (_, i) => i);
const inodeKey = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);

interface Holder {
  readonly socket: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
}

async function startHolder(t: import('ava').ExecutionContext): Promise<Holder> {
  const exe = native.holderExecutable();
  if (!exe) throw new Error('pald-holder not built');
  const dir = await mkdtemp(join(tmpdir(), 'pal-holder-'));
  await chmod(dir, 0o755); // others may enter (to test SO_PEERCRED), never write
  const socket = join(dir, 'holder.sock');
  const child = spawn(exe, [socket], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (b: Buffer) => (log += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });
  await waitFor('pald-holder to listen', async () => log.includes('listening'), { timeoutMs: 10_000 });
  return { socket, child, exited };
}

/** The /dev/fuse descriptor of a live session (the holder lets go of a dead one at once). */
async function liveFuse(t: import('ava').ExecutionContext): Promise<{ fd: number; fuse: FuseMount }> {
  const { fuse } = await mountTestFs(t, new TestFs());
  await waitFor('the session to answer INIT', async () => fuse.handoverState().init !== null);
  return { fd: fuse.handoverState().fd, fuse };
}

test.serial('pald-holder keeps /dev/fuse and its payload, hands out duplicates, lets go on DROP', async (t) => {
  const { fd: fuse } = await liveFuse(t);
  const holder = await startHolder(t);
  t.is(native.holderTake(holder.socket), undefined, 'nothing kept yet');

  const payload = encodePayload({ generation: 3, inodeKey, init });
  native.holderPut(holder.socket, fuse, payload);
  for (let i = 0; i < 2; i++) {
    const held = native.holderTake(holder.socket);
    t.truthy(held);
    t.deepEqual(Uint8Array.from(held!.payload), Uint8Array.from(payload));
    t.true(native.claimFuseFd(held!.fd));
    t.is(fstatSync(held!.fd).rdev, fstatSync(fuse).rdev);
    native.closeFd(held!.fd); // a duplicate: the holder still has its own
  }

  t.true(native.holderDrop(holder.socket));
  t.is(await holder.exited, 0);
  t.is(native.holderTake(holder.socket), undefined, 'no holder any more: a fresh mount');
});

test.serial('pald-holder refuses what is not /dev/fuse', async (t) => {
  const holder = await startHolder(t);
  const devnull = openSync('/dev/null', 'r');
  t.teardown(() => closeSync(devnull));
  // The client refuses it first; the holder would too (it checks what it receives).
  t.throws(() => native.holderPut(holder.socket, devnull, new Uint8Array(4)), { message: /not \/dev\/fuse/ });
  t.is(native.holderTake(holder.socket), undefined);
});

test.serial('pald-holder answers only root (SO_PEERCRED), even on a socket others can reach', async (t) => {
  const { fd: fuse } = await liveFuse(t);
  const holder = await startHolder(t);
  native.holderPut(holder.socket, fuse, new Uint8Array([1]));
  await chmod(holder.socket, 0o666); // only the peer check stands between nobody and the descriptor
  // A GET as nobody: the header "PALH", version 1, op 2, length 0. Prints the reply's op byte.
  const script = `
    const s = require('node:net').connect(process.argv[1]);
    s.on('connect', () => s.write(Buffer.from([0x50,0x41,0x4c,0x48,1,2,0,0])));
    s.on('data', (d) => { process.stdout.write(String(d[5])); s.destroy(); });
    s.on('error', (e) => { process.stderr.write(e.message); process.exitCode = 3; });`;
  const r = await runCommand('setpriv', [...AS_NOBODY, process.execPath, '-e', script, holder.socket]);
  // PAL_HO_REFUSED (and no descriptor), or the connection closed before the request was written.
  t.true(r.stdout === '18' || /EPIPE|ECONNRESET/.test(r.stderr), `refusal expected: ${r.stdout} ${r.stderr}`);
  const held = native.holderTake(holder.socket); // root still gets it
  t.truthy(held);
  native.closeFd(held!.fd);
});

test.serial('pald-holder exits when the mount it keeps ends', async (t) => {
  const { fd, fuse } = await liveFuse(t);
  const holder = await startHolder(t);
  native.holderPut(holder.socket, fd, new Uint8Array([1]));
  await fuse.unmount();
  t.is(await holder.exited, 0);
});
