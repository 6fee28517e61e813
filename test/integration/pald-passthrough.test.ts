// pald with FUSE passthrough (its default, src/daemon/fuse-passthrough.ts): the kernel reads an
// open secret from the plaintext's own locked pages. The kernel allows one such backing per inode
// at a time, so each secret version is an inode of its own (src/fs/inodes.ts), and each pald run
// numbers in its own epoch: a handle held open across a rotation, or across a restart, keeps
// reading what it opened while new opens read the current version. PAL_FUSE_PASSTHROUGH=0 is the
// control (reads through pald). Real pald, real mount; the host caller (uid 0) reads.

import test from 'ava';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPald, type TestPald } from '../helpers/pald.js';
import { startChild, type RunningChild } from './native-fixture.js';
import { waitFor } from '../helpers/wait.js';

// Opens a file, prints "open <ino>"; then for each line on stdin prints what the handle reads
// from offset 0 (hex) and its inode; exits at EOF.
const HOLDER = `import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
print("open", os.fstat(fd).st_ino, flush=True)
for _ in sys.stdin:
    print(os.pread(fd, 1 << 16, 0).hex(), os.fstat(fd).st_ino, flush=True)`;

interface Holder {
  readonly child: RunningChild;
  readonly ino: number;
  /** What the handle reads now, and the inode fstat says. */
  read(): Promise<{ value: string; ino: number }>;
}

async function hold(t: Parameters<typeof startChild>[0], path: string): Promise<Holder> {
  const child = startChild(t, 'python3', ['-c', HOLDER, path], { stdio: ['pipe', 'pipe', 'pipe'] });
  const first = await waitFor('the holder to open', () => /^open (\d+)\n/.exec(child.stdout())?.[1]);
  let lines = 1;
  return {
    child,
    ino: Number(first),
    async read() {
      child.stdin!.write('\n');
      lines++;
      const line = await waitFor('the holder to read', () => {
        const all = child.stdout().split('\n');
        return all.length > lines ? all[lines - 1] : undefined;
      });
      const [hex, ino] = line.split(' ');
      return { value: Buffer.from(hex!, 'hex').toString(), ino: Number(ino) };
    },
  };
}

function cat(path: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile('cat', [path], { timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr }),
    );
  });
}

interface PassthroughStatus {
  readonly asked: boolean;
  readonly negotiated: boolean;
  readonly opens: number;
  readonly conflicts: number;
  readonly contentReads: number;
}

async function passthroughOf(pald: TestPald): Promise<PassthroughStatus> {
  const r = await pald.pal('status', '--json');
  if (r.code !== 0) throw new Error(r.stderr);
  return (JSON.parse(r.stdout) as { passthrough: PassthroughStatus }).passthrough;
}

async function withPald(
  t: Parameters<typeof startChild>[0],
  opts: { env?: NodeJS.ProcessEnv; holder?: boolean } = {},
): Promise<TestPald> {
  const scratch = await mkdtemp(join(tmpdir(), 'pal-passthrough-it-'));
  const pald = await startPald({
    dockerHost: `unix://${join(scratch, 'no-docker.sock')}`,
    hostAllowUids: [0],
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.holder ? { holder: true } : {}),
  });
  t.teardown(async () => {
    await pald.cleanup();
    await rm(scratch, { recursive: true, force: true });
  });
  return pald;
}

const value = (tag: string): string => `${tag}-${randomBytes(8).toString('hex')}\n`;

for (const passthrough of [true, false]) {
  const mode = passthrough ? 'passthrough (default)' : 'PAL_FUSE_PASSTHROUGH=0';

  test.serial(`a handle held across a rotation reads its version; new opens read the new one [${mode}]`, async (t) => {
    const pald = await withPald(t, passthrough ? {} : { env: { PAL_FUSE_PASSTHROUGH: '0' } });
    const path = join(pald.mountpoint, 'rot');
    const first = value('first');
    await pald.seal('rot', ['a'], first);
    await waitFor('the first version', async () => (await cat(path)).out === first);
    const holder = await hold(t, path);
    t.is((await holder.read()).value, first);

    const second = value('second');
    await pald.seal('rot', ['a'], second);
    await waitFor('the rotated version', async () => (await cat(path)).out === second);
    const after = await cat(path);
    t.is(after.code, 0, after.err);
    const held = await holder.read();
    t.is(held.value, first, 'the open handle still reads the version it opened');
    t.is(held.ino, holder.ino);
    const status = await passthroughOf(pald);
    t.is(status.negotiated, passthrough);
    t.is(status.conflicts, 0, 'no open met another version on its inode');
    if (passthrough) {
      t.true(status.opens >= 3, `opens by passthrough: ${status.opens}`);
      t.is(status.contentReads, 0, 'no secret read came to pald');
    } else {
      t.is(status.opens, 0);
      t.true(status.contentReads >= 3);
    }
    holder.child.stdin!.end();
    t.is((await holder.child.done).code, 0);
  });
}

test.serial('a handle held across a restart reads on, and the resumed pald serves new opens of it', async (t) => {
  const pald = await withPald(t, { holder: true });
  const path = join(pald.mountpoint, 'kept');
  const secret = value('kept');
  await pald.seal('kept', ['a'], secret);
  await waitFor('the secret', async () => (await cat(path)).out === secret);
  const holder = await hold(t, path);
  t.true((await passthroughOf(pald)).negotiated);

  await pald.signal('SIGTERM'); // handed over to pald-holder
  await pald.start(); // resumes the same session
  const status = JSON.parse((await pald.pal('status', '--json')).stdout) as { restart: { resumed: boolean } };
  t.true(status.restart.resumed);
  const fresh = await cat(path);
  t.is(fresh.code, 0, `a new open after the restart: ${fresh.err}`);
  t.is(fresh.out, secret);
  t.is((await holder.read()).value, secret, 'the handle opened before the restart reads on');
  const resumed = await passthroughOf(pald);
  t.true(resumed.negotiated, 'the resumed pald uses the passthrough the first one negotiated');
  t.true(resumed.opens >= 1);
  t.is(resumed.conflicts, 0);
  holder.child.stdin!.end();
  t.is((await holder.child.done).code, 0);
});
