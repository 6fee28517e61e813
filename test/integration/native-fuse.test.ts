// The native FUSE binding against a real mount and real caller processes.
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import test from 'ava';

import { lockedMemoryStats } from '../../src/native/index.js';
import { NOBODY, ROOT, TestFs, gate, mountTestFs, runChild, startChild } from './native-fixture.js';
import { waitFor } from '../helpers/wait.js';

// A caller that opens a file N times and another N times, says "opened", and on SIGUSR2 reads
// every handle, prints the distinct contents it read, and closes them all.
const HOLDER = `
  const fs = require('node:fs'), { createHash } = require('node:crypto');
  const [shared, plain, n, size] = process.argv.slice(1);
  const readAll = (fd, len) => { const b = Buffer.alloc(len); let off = 0, k;
    while (off < len && (k = fs.readSync(fd, b, off, len - off, off)) > 0) off += k; return b.subarray(0, off); };
  const sharedFds = [], plainFds = [];
  process.on('SIGUSR2', () => {
    const digests = new Set(sharedFds.map((fd) => createHash('sha256').update(readAll(fd, Number(size))).digest('hex')));
    const plains = new Set(plainFds.map((fd) => readAll(fd, 100).toString()));
    console.log(JSON.stringify({ digests: [...digests], plains: [...plains] }));
    for (const fd of [...sharedFds, ...plainFds]) fs.closeSync(fd);
    process.exit(0);
  });
  for (let i = 0; i < Number(n); i++) { sharedFds.push(fs.openSync(shared, 'r')); plainFds.push(fs.openSync(plain, 'r')); }
  console.log('opened');
  setInterval(() => {}, 1000);`;

// Every test runs in both request modes: read on the JS thread's loop (threads: 0, the
// default) and read by worker threads that hand JS requests over a threadsafe function.
for (const threads of [0, 3]) {
  const mode = threads === 0 ? 'JS-thread reads' : `${threads} worker threads`;

  test(`each request carries the calling process: pid, uid and gid of a root caller [${mode}]`, async (t) => {
    const fs = new TestFs();
    fs.add('a', 'alpha\n');
    const { mountpoint } = await mountTestFs(t, fs, { threads });
    const r = await runChild(t, 'cat', [join(mountpoint, 'a')]);
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout.toString(), 'alpha\n');
    const opens = fs.callsOf('open');
    t.is(opens.length, 1);
    t.deepEqual(opens[0]!.ctx, { pid: r.pid, uid: 0, gid: 0 });
    t.deepEqual(fs.callsOf('lookup', 'a')[0]!.ctx, { pid: r.pid, uid: 0, gid: 0 });
  });

  test(`a caller running as another uid/gid (setpriv) is reported as that uid/gid [${mode}]`, async (t) => {
    const fs = new TestFs();
    fs.add('a', 'alpha\n', 'js');
    const { mountpoint } = await mountTestFs(t, fs, { threads });
    // setpriv execs cat: the spawned pid is the reader's pid.
    const r = await runChild(t, 'setpriv', [...NOBODY, 'cat', join(mountpoint, 'a')]);
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout.toString(), 'alpha\n');
    for (const op of ['lookup', 'open', 'read']) {
      const calls = fs.callsOf(op);
      t.true(calls.length >= 1, op);
      for (const c of calls) t.deepEqual(c.ctx, { pid: r.pid, uid: 65534, gid: 65534 }, op);
    }
  });

  test(`a caller in its own pid namespace is reported by its host pid [${mode}]`, async (t) => {
    const fs = new TestFs();
    fs.add('a', 'alpha\n');
    const { mountpoint } = await mountTestFs(t, fs, { threads });
    // Inspect the caller while it is blocked in open(): its NSpid line and its parent.
    let seen: { pid: number; nspid: string; ppid: number } | undefined;
    fs.onCall = (c) => {
      if (c.op !== 'open' || seen) return;
      seen = { pid: c.ctx.pid, nspid: '', ppid: -1 };
      const snapshot = seen;
      fs.gates.set(
        'a',
        (async () => {
          const status = await readFile(`/proc/${c.ctx.pid}/status`, 'utf8');
          snapshot.nspid = /^NSpid:\s*(.*)$/m.exec(status)?.[1]?.trim() ?? '';
          snapshot.ppid = Number(/^PPid:\s*(\d+)$/m.exec(status)?.[1]);
        })(),
      );
    };
    // unshare -f forks the namespace's pid 1 (the shell), which prints its own pid then execs cat.
    const r = await runChild(t, 'unshare', [
      '-p',
      '-f',
      '--mount-proc',
      'sh',
      '-c',
      `echo $$; exec cat ${join(mountpoint, 'a')}`,
    ]);
    t.is(r.code, 0, r.stderr);
    const [nsPidLine, content] = r.stdout.toString().split('\n', 2);
    t.is(nsPidLine, '1');
    t.is(content, 'alpha');
    t.truthy(seen);
    t.not(seen!.pid, 1, 'the handler gets the host pid, not the namespace one');
    t.deepEqual(seen!.nspid.split(/\s+/), [String(seen!.pid), '1'], 'host pid, then pid 1 in the new namespace');
    t.is(seen!.ppid, r.pid, 'the caller is the child unshare forked');
  });

  test(`64 concurrent readers all get their own bytes, from JS reads and from handle buffers [${mode}]`, async (t) => {
    const fs = new TestFs();
    const expected = new Map<string, string>();
    for (let i = 0; i < 64; i++) {
      const name = `f${i}`;
      const body = `${name}:${'x'.repeat(i * 37)}\n`;
      expected.set(name, body);
      fs.add(name, body, i % 2 === 0 ? 'buffer' : 'js');
    }
    const { mountpoint } = await mountTestFs(t, fs, { threads });
    const runs = [...expected.keys()].map((name) =>
      runChild(t, 'cat', [join(mountpoint, name)]).then((r) => ({ name, r })),
    );
    for (const { name, r } of await Promise.all(runs)) {
      t.is(r.code, 0, r.stderr);
      t.is(r.stdout.toString(), expected.get(name) ?? '', name);
      t.is(fs.callsOf('open').filter((c) => c.name === name).length, 1);
      t.is(fs.callsOf('open').find((c) => c.name === name)!.ctx.pid, r.pid);
    }
    // Native reads never reached JS; JS reads did.
    const readInos = new Set(fs.callsOf('read').map((c) => c.ino));
    for (const f of fs.files.values()) t.is(readInos.has(f.ino), f.serve === 'js', f.name);
  });

  test(`a slow handler for one caller does not hold up the others [${mode}]`, async (t) => {
    const fs = new TestFs();
    fs.add('slow', 'slow\n');
    for (let i = 0; i < 8; i++) fs.add(`fast${i}`, `fast${i}\n`, i % 2 ? 'js' : 'buffer');
    const { mountpoint } = await mountTestFs(t, fs, { threads });
    const hold = gate();
    fs.gates.set('slow', hold.promise);
    const order: string[] = [];
    const slow = startChild(t, 'cat', [join(mountpoint, 'slow')]);
    const slowDone = slow.done.then((r) => (order.push('slow'), r));
    await waitFor('the slow lookup to reach JS', () => fs.callsOf('lookup', 'slow').length > 0, {
      timeoutMs: 60_000,
      intervalMs: 5,
    });
    const fast = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        runChild(t, 'cat', [join(mountpoint, `fast${i}`)]).then((r) => (order.push(`fast${i}`), r)),
      ),
    );
    fast.forEach((r, i) => t.is(r.stdout.toString(), `fast${i}\n`));
    t.false(order.includes('slow'), 'the slow caller is still waiting while all fast ones finished');
    hold.open();
    const s = await slowDone;
    t.is(s.stdout.toString(), 'slow\n');
    t.is(order.at(-1), 'slow');
  });

  test(`writes, creates, unlinks, chmod, truncate, mkdir, rename, symlink fail with EROFS [${mode}]`, async (t) => {
    const fs = new TestFs();
    fs.add('a', 'alpha\n');
    const { mountpoint } = await mountTestFs(t, fs, { threads });
    const script = `
      const fs = require('node:fs'); const p = require('node:path'); const m = process.argv[1];
      const attempt = (f) => { try { f(); return 'ok'; } catch (e) { return e.code; } };
      console.log(JSON.stringify({
        write: attempt(() => fs.writeFileSync(p.join(m, 'a'), 'x')),
        append: attempt(() => fs.openSync(p.join(m, 'a'), 'a')),
        create: attempt(() => fs.writeFileSync(p.join(m, 'new'), 'x')),
        unlink: attempt(() => fs.unlinkSync(p.join(m, 'a'))),
        chmod: attempt(() => fs.chmodSync(p.join(m, 'a'), 0o777)),
        truncate: attempt(() => fs.truncateSync(p.join(m, 'a'), 0)),
        mkdir: attempt(() => fs.mkdirSync(p.join(m, 'd'))),
        rename: attempt(() => fs.renameSync(p.join(m, 'a'), p.join(m, 'b'))),
        symlink: attempt(() => fs.symlinkSync('a', p.join(m, 'l'))),
        utimes: attempt(() => fs.utimesSync(p.join(m, 'a'), 1, 1)),
      }));`;
    const r = await runChild(t, process.execPath, ['-e', script, mountpoint]);
    t.is(r.code, 0, r.stderr);
    const results = JSON.parse(r.stdout.toString()) as Record<string, string>;
    for (const [op, code] of Object.entries(results)) t.is(code, 'EROFS', op);
    const cat = await runChild(t, 'cat', [join(mountpoint, 'a')]);
    t.is(cat.stdout.toString(), 'alpha\n', 'content unchanged');
  });

  test(`handler errors become errnos: FuseError as given, other exceptions EIO, unknown names ENOENT [${mode}]`, async (t) => {
    const fs = new TestFs();
    fs.add('denied', 'no');
    fs.add('broken', 'no');
    const errors: string[] = [];
    const { mountpoint } = await mountTestFs(t, fs, {
      threads,
      onError: (err, op) => errors.push(`${op}:${(err as Error).message}`),
    });
    const script = `
      const fs = require('node:fs'); const p = require('node:path'); const m = process.argv[1];
      const attempt = (f) => { try { f(); return 'ok'; } catch (e) { return e.code; } };
      console.log(JSON.stringify(['denied', 'broken', 'missing'].map((n) => attempt(() => fs.readFileSync(p.join(m, n))))));`;
    const r = await runChild(t, process.execPath, ['-e', script, mountpoint]);
    t.is(r.code, 0, r.stderr);
    t.deepEqual(JSON.parse(r.stdout.toString()), ['EACCES', 'EIO', 'ENOENT']);
    t.deepEqual(errors, ['open:handler bug']);
  });

  test.serial(
    `handles of one file share one locked copy that outlives the fs's own holder; plain content takes no locked memory [${mode}]`,
    async (t) => {
      const before = lockedMemoryStats().lockedBytes;
      const fs = new TestFs();
      const body = randomBytes(256 * 1024);
      fs.add('shared', body, 'shared');
      fs.add('plain', 'not a secret\n', 'plain');
      const { mountpoint } = await mountTestFs(t, fs, { threads });
      const holder = startChild(t, process.execPath, [
        '-e',
        HOLDER,
        join(mountpoint, 'shared'),
        join(mountpoint, 'plain'),
        '50',
        String(body.length),
      ]);
      await waitFor('the caller to hold 50 + 50 handles', () => holder.stdout().includes('opened'), {
        timeoutMs: 60_000,
        intervalMs: 5,
      });
      t.is(
        lockedMemoryStats().lockedBytes - before,
        body.length,
        'one locked copy for 50 handles, none for the plain file',
      );
      fs.held.get('shared')!.wipe(); // what the cache does when it evicts the secret
      t.is(lockedMemoryStats().lockedBytes - before, body.length, 'the open handles still hold it');
      holder.kill('SIGUSR2');
      const r = await holder.done;
      t.is(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout.toString().trim().split('\n').at(-1)!) as {
        digests: string[];
        plains: string[];
      };
      t.deepEqual(report, { digests: [createHash('sha256').update(body).digest('hex')], plains: ['not a secret\n'] });
      t.is(fs.callsOf('read').length, 0, 'every read was served by the addon');
      await waitFor('the 100 releases to reach JS', () => fs.released.size === 100, {
        timeoutMs: 60_000,
        intervalMs: 5,
      });
      t.is(lockedMemoryStats().lockedBytes, before, 'the last handle let go: unlocked and freed');
    },
  );

  test(`an open reply the addon refuses (content already let go of) is EIO, and the handle is released in JS [${mode}]`, async (t) => {
    const fs = new TestFs();
    const f = fs.add('dead', 'x', 'dead');
    const { mountpoint } = await mountTestFs(t, fs, { threads });
    const r = await runChild(t, 'cat', [join(mountpoint, 'dead')]);
    t.not(r.code, 0);
    t.regex(r.stderr, /Input\/output error/);
    await waitFor('the release of the refused handle', () => fs.callsOf('release').some((c) => c.ino === f.ino), {
      timeoutMs: 60_000,
      intervalMs: 5,
    });
    t.pass();
  });

  test(`reads at any offset from a handle buffer; past the end gives 0 bytes; release wipes it [${mode}]`, async (t) => {
    const fs = new TestFs();
    const body = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));
    fs.add('big', body, 'buffer');
    const { mountpoint } = await mountTestFs(t, fs, { threads });
    const script = `
      const fs = require('node:fs'); const fd = fs.openSync(process.argv[1], 'r');
      const at = (pos, len) => { const b = Buffer.alloc(len); const n = fs.readSync(fd, b, 0, len, pos); return b.subarray(0, n).toString('hex'); };
      console.log(JSON.stringify([at(0, 16), at(4093, 7), at(9990, 100), at(10000, 10), at(123456, 10)]));
      fs.closeSync(fd);`;
    const r = await runChild(t, process.execPath, ['-e', script, join(mountpoint, 'big')]);
    t.is(r.code, 0, r.stderr);
    const hex = (a: number, b: number): string => body.subarray(a, b).toString('hex');
    t.deepEqual(JSON.parse(r.stdout.toString()), [hex(0, 16), hex(4093, 4100), hex(9990, 10000), '', '']);
    t.is(fs.callsOf('read').length, 0, 'no read reached JS');
    const [fh, buf] = [...fs.handedOver.entries()][0]!;
    await waitFor('release to reach JS', () => fs.released.has(fh), { timeoutMs: 60_000, intervalMs: 5 });
    t.false(buf.alive, 'the addon wiped the handle buffer at release');
    t.throws(() => buf.read(), { message: /handed to a FUSE file handle|wiped/ });
  });

  test(`readdir lists every entry across several kernel pages, plus . and .. [${mode}]`, async (t) => {
    const fs = new TestFs();
    const names = Array.from({ length: 600 }, (_, i) => `entry-${String(i).padStart(4, '0')}-${'n'.repeat(60)}`);
    for (const n of names) fs.add(n, n);
    const { mountpoint } = await mountTestFs(t, fs, { threads });
    const r = await runChild(t, 'ls', ['-a1', '-f', mountpoint]);
    t.is(r.code, 0, r.stderr);
    const listed = r.stdout.toString().trim().split('\n');
    t.deepEqual(listed.slice(0, 2), ['.', '..']);
    t.deepEqual(listed.slice(2), names);
    t.is(fs.callsOf('readdir').length, 1, 'later pages came from the listing held in C');
  });

  test(`statfs and getattr reach their handlers with the caller [${mode}]`, async (t) => {
    const fs = new TestFs();
    fs.add('a', 'alpha\n');
    const { mountpoint } = await mountTestFs(t, fs, { threads });
    const r = await runChild(t, 'stat', ['-f', '-c', '%c %l', mountpoint]);
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout.toString().trim(), '1 255');
    const st = await runChild(t, 'stat', ['-c', '%s %a %F', join(mountpoint, 'a')]);
    t.is(st.stdout.toString().trim(), '6 444 regular file');
    t.is(fs.callsOf('statfs')[0]?.ctx.pid, r.pid);
  });

  test(`invalidateEntry drops a cached name; calling it while a lookup in that directory waits on JS does not deadlock [${mode}]`, async (t) => {
    const fs = new TestFs();
    fs.add('cached', 'c\n');
    fs.add('held', 'h\n');
    fs.entryTimeout = 3600;
    const { mountpoint, fuse } = await mountTestFs(t, fs, { threads });
    const path = join(mountpoint, 'cached');
    await runChild(t, 'stat', [path]);
    await runChild(t, 'stat', [path]);
    t.is(fs.callsOf('lookup', 'cached').length, 1, 'the kernel cached the entry');

    // A lookup in the root is held in JS (the kernel holds the directory lock shared meanwhile).
    const hold = gate();
    fs.gates.set('held', hold.promise);
    const held = startChild(t, 'stat', [join(mountpoint, 'held')]);
    await waitFor('the held lookup', () => fs.callsOf('lookup', 'held').length > 0, {
      timeoutMs: 60_000,
      intervalMs: 5,
    });
    fuse.invalidateEntry(ROOT, 'cached'); // must return at once; the notifier thread does the write
    fuse.invalidateInode(fs.files.get('cached')!.ino);
    hold.open();
    t.is((await held.done).code, 0);
    await waitFor(
      'a fresh lookup after invalidation',
      async () => {
        await runChild(t, 'stat', [path]);
        return fs.callsOf('lookup', 'cached').length >= 2;
      },
      { timeoutMs: 60_000, intervalMs: 5 },
    );
    t.pass();
  });
}
