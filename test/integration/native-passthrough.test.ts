// FUSE passthrough (MountOptions.passthrough): an open whose content is a SecureBuffer is answered
// so that the kernel reads the file from that buffer's own pages (a memfd mapping, still locked
// and undumpable), and no READ comes to the addon. Real mounts, real callers (read, mmap,
// sendfile); the control mount without passthrough shows the same reads arriving as READs.
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import test from 'ava';

import { secureBufferDebug, type FuseMount } from '../../src/native/index.js';
import { TestFs, mountTestFs, runChild, startChild } from './native-fixture.js';
import { waitFor } from '../helpers/wait.js';

// Reads a file three ways and prints one sha256 per way: read(2), mmap (private, and shared when
// asked: a direct-I/O file refuses MAP_SHARED, a passthrough file maps the buffer's pages
// read-only), sendfile into a pipe.
const READER = `
import hashlib, mmap, os, sys
p = sys.argv[1]
def rd():
    fd = os.open(p, os.O_RDONLY); out = b''
    while True:
        k = os.read(fd, 65536)
        if not k: break
        out += k
    os.close(fd); return out
def mm(flags):
    fd = os.open(p, os.O_RDONLY)
    try:
        m = mmap.mmap(fd, 0, flags, mmap.PROT_READ); b = m[:]; m.close(); return b
    finally: os.close(fd)
def sf():
    fd = os.open(p, os.O_RDONLY); r, w = os.pipe(); out = b''; off = 0
    while True:
        k = os.sendfile(w, fd, off, 65536)
        if k == 0: break
        off += k; out += os.read(r, k)
    os.close(fd); os.close(r); os.close(w); return out
ways = [rd, lambda: mm(mmap.MAP_PRIVATE), sf] + ([lambda: mm(mmap.MAP_SHARED)] if sys.argv[2:] == ['shared'] else [])
for b in (w() for w in ways):
    print(hashlib.sha256(b).hexdigest(), len(b))
`;

// Opens a file, says "open", and exits when its stdin closes.
const HOLDER = `import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
print("open", flush=True)
sys.stdin.read()`;

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Secure buffers become memfds once the kernel agreed to passthrough (its INIT reply). */
async function negotiated(fuse: FuseMount): Promise<void> {
  await waitFor('passthrough negotiated', () => fuse.passthroughStats().negotiated);
}

async function quiet(fuse: FuseMount): Promise<void> {
  await waitFor('passthrough files released', () => fuse.passthroughStats().busyInodes === 0);
}

for (const threads of [0, 2]) {
  const mode = threads === 0 ? 'JS-thread reads' : `${threads} worker threads`;

  test(`the kernel reads a SecureBuffer's content itself: read, mmap and sendfile whole, no READ [${mode}]`, async (t) => {
    const fs = new TestFs();
    const { mountpoint, fuse } = await mountTestFs(t, fs, { threads, passthrough: true });
    await negotiated(fuse);
    const small = Buffer.from('the secret\n');
    const large = randomBytes(300 * 1024 + 17);
    fs.add('small', small, 'shared'); // allocated after INIT: memfd-backed
    fs.add('large', large, 'shared');
    for (const [name, content] of [
      ['small', small],
      ['large', large],
    ] as const) {
      const r = await runChild(t, 'python3', ['-c', READER, join(mountpoint, name), 'shared']);
      t.is(r.code, 0, r.stderr);
      const lines = r.stdout.toString().trim().split('\n');
      t.deepEqual(lines, Array(4).fill(`${sha(content)} ${content.length}`), name);
    }
    const stats = fuse.passthroughStats();
    t.like(stats, { asked: true, offered: true, negotiated: true, conflicts: 0 });
    t.is(stats.opens, 8, 'every open answered by passthrough');
    t.is(stats.contentReads, 0, 'no READ reached the addon');
    await quiet(fuse);
  });

  test(`without passthrough the same reads come to the addon as READs [${mode}]`, async (t) => {
    const fs = new TestFs();
    const { mountpoint, fuse } = await mountTestFs(t, fs, { threads });
    const content = randomBytes(100 * 1024);
    fs.add('s', content, 'shared');
    const r = await runChild(t, 'python3', ['-c', READER, join(mountpoint, 's')]);
    t.is(r.code, 0, r.stderr);
    t.deepEqual(r.stdout.toString().trim().split('\n'), Array(3).fill(`${sha(content)} ${content.length}`));
    const stats = fuse.passthroughStats();
    t.like(stats, { asked: false, negotiated: false, opens: 0 });
    t.true(stats.contentReads >= 3, `READs: ${stats.contentReads}`);
  });

  test(`one content per inode: while a file is open, an open with other content fails and one with the same succeeds [${mode}]`, async (t) => {
    const fs = new TestFs();
    const { mountpoint, fuse } = await mountTestFs(t, fs, { threads, passthrough: true });
    await negotiated(fuse);
    fs.add('fresh', 'a new buffer per open\n', 'buffer'); // every open hands other memory
    fs.add('shared', 'one buffer for all\n', 'shared');
    const holders = ['fresh', 'shared'].map((name) => {
      const h = startChild(t, 'python3', ['-c', HOLDER, join(mountpoint, name)], { stdio: ['pipe', 'pipe', 'pipe'] });
      return { name, h };
    });
    for (const { h } of holders) await waitFor('holder has it open', () => h.stdout().includes('open'));
    t.is(fuse.passthroughStats().busyInodes, 2);

    const other = await runChild(t, 'cat', [join(mountpoint, 'fresh')]);
    t.not(other.code, 0, 'the kernel refuses a second backing for the inode');
    t.regex(other.stderr, /Input\/output error/);
    t.is(fuse.passthroughStats().conflicts, 1);
    const same = await runChild(t, 'cat', [join(mountpoint, 'shared')]);
    t.is(same.code, 0, same.stderr);
    t.is(same.stdout.toString(), 'one buffer for all\n');

    for (const { h } of holders) h.stdin?.end();
    for (const { h } of holders) t.is((await h.done).code, 0);
    await quiet(fuse);
    const again = await runChild(t, 'cat', [join(mountpoint, 'fresh')]);
    t.is(again.code, 0, again.stderr);
    t.is(again.stdout.toString(), 'a new buffer per open\n', 'once the inode is free, other content is fine');
    t.is(fuse.passthroughStats().contentReads, 0);
  });
}

test('content allocated after a passthrough mount is a locked, undumpable memfd mapping, zero after wipe', async (t) => {
  const fs = new TestFs();
  const { fuse } = await mountTestFs(t, fs, { passthrough: true });
  await negotiated(fuse);
  fs.add('s', 'correct horse battery staple', 'shared');
  const held = fs.held.get('s')!;
  const { address } = secureBufferDebug.info(held);
  const addr = BigInt(`0x${address}`);
  const smaps = (await readFile('/proc/self/smaps', 'utf8')).split('\n');
  let header = '';
  let flags: string[] = [];
  let inside = false;
  for (const line of smaps) {
    const range = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (range) {
      inside = BigInt(`0x${range[1]}`) <= addr && addr < BigInt(`0x${range[2]}`);
      if (inside) header = line;
    } else if (inside && line.startsWith('VmFlags:')) flags = line.slice(8).trim().split(/\s+/);
  }
  t.regex(header, /memfd:pal-plaintext/, header);
  t.true(flags.includes('lo'), `locked: ${flags.join(' ')}`);
  t.true(flags.includes('dd'), `dont-dump: ${flags.join(' ')}`);
  t.true(flags.includes('sh'), `shared: ${flags.join(' ')}`);
  const after = secureBufferDebug.wipeAndReadBack(held);
  t.deepEqual(after, Buffer.alloc(28), 'zero right after the wipe');
});
