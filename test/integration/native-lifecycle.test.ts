// How a mount ends: unmount(), process exit, SIGTERM, uncaught exception, SIGKILL (stale mount
// recovered by the next mount), and unmount while callers still hold files or wait on JS.
import { spawn } from 'node:child_process';
import { mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import test, { type ExecutionContext } from 'ava';

import { clearStaleMount, mount } from '../../src/native/index.js';
import { TestFs, gate, runChild, startChild, tempMountpoint } from './native-fixture.js';
import { waitFor } from '../helpers/wait.js';

const MOUNTER = fileURLToPath(new URL('./native-mounter.js', import.meta.url));

/** Is there a mount at exactly `path` in our mount namespace? */
async function mountedAt(path: string): Promise<boolean> {
  const lines = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n');
  return lines.some((l) => l.split(' ')[4]?.replace(/\\040/g, ' ') === path);
}

async function statErrno(path: string): Promise<string> {
  try {
    await stat(path);
    return 'ok';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'unknown';
  }
}

interface Mounter {
  pid: number;
  send(line: string): void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  kill(sig: NodeJS.Signals): void;
}

/** Starts a mounter process and waits for its "ready". */
async function startMounter(t: ExecutionContext, mountpoint: string, mode: string): Promise<Mounter> {
  const child = spawn(process.execPath, [MOUNTER, mountpoint, mode], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  let alive = true;
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => {
      alive = false;
      resolve({ code, signal, stderr });
    }),
  );
  t.teardown(async () => {
    if (alive) child.kill('SIGKILL');
    await exited;
    clearStaleMount(mountpoint); // whatever the test left, leave no stale mount
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('ready\n')) resolve();
    });
    void exited.then(({ code }) => reject(new Error(`mounter exited ${code} before ready: ${stderr}`)));
  });
  return { pid: child.pid!, send: (l) => child.stdin.write(`${l}\n`), exited, kill: (s) => child.kill(s) };
}

test('unmount() removes the mount and is idempotent', async (t) => {
  const mountpoint = await tempMountpoint(t);
  const fs = new TestFs();
  fs.add('a', 'alpha\n');
  const fuse = await mount(mountpoint, fs.handlers);
  t.true(await mountedAt(mountpoint));
  t.is((await runChild(t, 'cat', [join(mountpoint, 'a')])).stdout.toString(), 'alpha\n');
  await Promise.all([fuse.unmount(), fuse.unmount()]);
  await fuse.unmount();
  t.false(await mountedAt(mountpoint));
  t.is(await statErrno(join(mountpoint, 'a')), 'ENOENT');
});

test('the mount goes away when its process exits', async (t) => {
  const mountpoint = await tempMountpoint(t);
  const m = await startMounter(t, mountpoint, 'exit');
  t.true(await mountedAt(mountpoint));
  const r = await runChild(t, 'cat', [join(mountpoint, 'hello')]);
  t.is(r.stdout.toString(), `served by ${m.pid}\n`);
  m.send('exit');
  t.is((await m.exited).code, 0);
  t.false(await mountedAt(mountpoint));
});

test('the mount goes away when its process dies of an uncaught exception', async (t) => {
  const mountpoint = await tempMountpoint(t);
  const m = await startMounter(t, mountpoint, 'hold');
  m.send('throw');
  const e = await m.exited;
  t.not(e.code, 0);
  t.regex(e.stderr, /uncaught exception/);
  t.false(await mountedAt(mountpoint));
});

test('a SIGTERMed process that unmounts in its handler leaves no mount', async (t) => {
  const mountpoint = await tempMountpoint(t);
  const m = await startMounter(t, mountpoint, 'sigterm');
  t.true(await mountedAt(mountpoint));
  m.kill('SIGTERM');
  t.is((await m.exited).code, 0);
  t.false(await mountedAt(mountpoint));
});

test('a SIGKILLed process leaves a stale mount that the next mount() clears', async (t) => {
  const mountpoint = await tempMountpoint(t);
  const m = await startMounter(t, mountpoint, 'hold');
  m.kill('SIGKILL');
  t.is((await m.exited).signal, 'SIGKILL');
  t.true(await mountedAt(mountpoint), 'the dead mount is still there');
  t.is(await statErrno(mountpoint), 'ENOTCONN');

  const fs = new TestFs();
  fs.add('a', 'fresh\n');
  const fuse = await mount(mountpoint, fs.handlers);
  t.teardown(() => fuse.unmount());
  t.is((await runChild(t, 'cat', [join(mountpoint, 'a')])).stdout.toString(), 'fresh\n');
  await fuse.unmount();
  t.false(await mountedAt(mountpoint), 'no stale layer left under the new mount');
});

test('clearStaleMount removes a dead mount and leaves a plain directory alone', async (t) => {
  const mountpoint = await tempMountpoint(t);
  t.is(clearStaleMount(mountpoint), 0);
  const m = await startMounter(t, mountpoint, 'hold');
  m.kill('SIGKILL');
  await m.exited;
  t.is(clearStaleMount(mountpoint), 1);
  t.false(await mountedAt(mountpoint));
  t.is(await statErrno(mountpoint), 'ok');
});

test('mount() refuses a mountpoint a live daemon is serving', async (t) => {
  const mountpoint = await tempMountpoint(t);
  const m = await startMounter(t, mountpoint, 'hold');
  const fs = new TestFs();
  await t.throwsAsync(mount(mountpoint, fs.handlers), { message: /live FUSE mount/ });
  t.is((await runChild(t, 'cat', [join(mountpoint, 'hello')])).stdout.toString(), `served by ${m.pid}\n`);
});

for (const threads of [0, 3]) {
  test(`unmount() finishes while a caller holds a file open and another waits on JS [threads=${threads}]`, async (t) => {
    const mountpoint = await tempMountpoint(t);
    const fs = new TestFs();
    fs.add('open', 'held open\n');
    fs.add('waiting', 'never served\n');
    const fuse = await mount(mountpoint, fs.handlers, { extraOptions: ['allow_other'], threads });
    t.teardown(() => fuse.unmount());
    // A shell keeps fd 3 open on a file, and reads it again after the unmount.
    const holder = startChild(
      t,
      'sh',
      ['-c', `exec 3< ${join(mountpoint, 'open')}; echo opened; read line; cat <&3; echo "rc=$?"`],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    await waitFor('the holder to open its file', () => fs.callsOf('open', 'open').length === 1, {
      timeoutMs: 60_000,
      intervalMs: 5,
    });
    const hold = gate();
    fs.gates.set('waiting', hold.promise);
    const waiter = startChild(t, 'cat', [join(mountpoint, 'waiting')]);
    await waitFor('the waiting lookup', () => fs.callsOf('lookup', 'waiting').length === 1, {
      timeoutMs: 60_000,
      intervalMs: 5,
    });

    await fuse.unmount();
    t.false(await mountedAt(mountpoint));
    hold.open(); // JS answers after the unmount: must not crash; the caller gets an answer or an error
    const w = await waiter.done;
    t.true(w.code !== null);
    t.is(await statErrno(join(mountpoint, 'open')), 'ENOENT', 'the path shows the plain directory again');
  });
}

test('a mountpoint reached through a symlink is mounted and unmounted at its real path', async (t) => {
  const dir = await tempMountpoint(t);
  const real = join(dir, 'real');
  const link = join(dir, 'link');
  await mkdir(real);
  await symlink(real, link);
  const fs = new TestFs();
  fs.add('a', 'alpha\n');
  const fuse = await mount(link, fs.handlers);
  t.teardown(() => fuse.unmount());
  t.true(await mountedAt(real));
  t.is((await runChild(t, 'cat', [join(link, 'a')])).stdout.toString(), 'alpha\n');
  await fuse.unmount();
  t.false(await mountedAt(real));
});

test('mount() refuses a mountpoint that is not a directory or does not exist', async (t) => {
  const dir = await tempMountpoint(t);
  const file = join(dir, 'file');
  await writeFile(file, 'x');
  const fs = new TestFs();
  await t.throwsAsync(mount(file, fs.handlers), { code: 'ERR_PAL_MOUNT', message: /not a directory/ });
  await t.throwsAsync(mount(join(dir, 'missing'), fs.handlers), { code: 'ERR_PAL_MOUNT', message: /No such file/ });
  await t.throwsAsync(mount('relative/path', fs.handlers), { instanceOf: TypeError });
});

test('a mount handle stays safe to use after unmount (invalidations are ignored, unmount again resolves)', async (t) => {
  const mountpoint = await tempMountpoint(t);
  const fs = new TestFs();
  fs.add('a', 'alpha\n');
  const fuse = await mount(mountpoint, fs.handlers);
  await fuse.unmount();
  // Give the session time to be torn down completely: wait until the kernel side is gone.
  await waitFor('the mount to go', async () => !(await mountedAt(mountpoint)), { timeoutMs: 60_000, intervalMs: 5 });
  t.notThrows(() => fuse.invalidateEntry(1, 'a'));
  t.notThrows(() => fuse.invalidateInode(2));
  await t.notThrowsAsync(fuse.unmount());
});
