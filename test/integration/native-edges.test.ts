// Edge cases of the binding: hostile listings, malformed replies, handed-over buffers, defaults,
// and what worker threads buy (native reads while the JS thread is blocked).
import { join } from 'node:path';

import test from 'ava';

import { allocSecureBuffer, Errno, FuseError, type FuseHandlers } from '../../src/native/index.js';
import { TestFs, mountTestFs, runChild, startChild } from './native-fixture.js';
import { waitFor } from '../helpers/wait.js';

test('names JS cannot mean are left out of a listing: "", ".", "..", with "/", over 255 bytes', async (t) => {
  const fs = new TestFs();
  fs.add('good', 'g');
  const { mountpoint } = await mountTestFs(t, fs);
  const base = fs.handlers.readdir.bind(fs.handlers);
  fs.handlers.readdir = async (ctx, ino) => {
    const good = await base(ctx, ino);
    const attr = good[0]!.attr;
    return [...good, ...['', '.', '..', 'a/b', 'x'.repeat(256)].map((name) => ({ name, attr }))];
  };
  const r = await runChild(t, 'ls', ['-a1', '-f', mountpoint]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.stdout.toString().trim().split('\n'), ['.', '..', 'good']);
});

test('a malformed reply answers EIO and is reported, not a crash', async (t) => {
  const fs = new TestFs();
  fs.add('rootino', 'x');
  fs.add('negsize', 'x');
  fs.add('wiped', 'x');
  const errors: string[] = [];
  const { mountpoint } = await mountTestFs(t, fs, {
    onError: (err, op) => errors.push(`${op}: ${(err as Error).message}`),
  });
  const h = fs.handlers as { -readonly [K in keyof FuseHandlers]: FuseHandlers[K] };
  const lookup = h.lookup.bind(h);
  h.lookup = async (ctx, parent, name) => {
    const e = await lookup(ctx, parent, name);
    if (name === 'rootino') return { ...e, attr: { ...e.attr, ino: 1 } };
    if (name === 'negsize') return { ...e, attr: { ...e.attr, size: -5 } };
    return e;
  };
  h.open = (_ctx, _ino) => {
    const content = allocSecureBuffer(1);
    content.wipe();
    return { fh: 1, directIo: true, keepCache: false, content };
  };
  const script = `
    const fs = require('node:fs'); const p = require('node:path'); const m = process.argv[1];
    const attempt = (f) => { try { f(); return 'ok'; } catch (e) { return e.code; } };
    console.log(JSON.stringify(['rootino', 'negsize', 'wiped'].map((n) => attempt(() => fs.readFileSync(p.join(m, n))))));`;
  const r = await runChild(t, process.execPath, ['-e', script, mountpoint]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout.toString()), ['EIO', 'EIO', 'EIO']);
  t.is(errors.length, 3);
  t.regex(errors[0]!, /^lookup: lookup must answer an inode other than 0 and 1/);
  t.regex(errors[1]!, /^lookup: attr.size out of range/);
  t.regex(errors[2]!, /^open: secure buffer was wiped/);
});

test('statfs without a handler answers defaults; getattr errors reach stat', async (t) => {
  const fs = new TestFs();
  const h = fs.handlers as { statfs?: FuseHandlers['statfs'] };
  delete h.statfs;
  const { mountpoint } = await mountTestFs(t, fs);
  const r = await runChild(t, 'stat', ['-f', '-c', '%l', mountpoint]);
  t.is(r.stdout.toString().trim(), '255');
  (fs.handlers as { getattr: FuseHandlers['getattr'] }).getattr = () => {
    throw new FuseError(Errno.EACCES);
  };
  const s = await runChild(t, 'stat', [mountpoint]);
  t.not(s.code, 0);
  t.regex(s.stderr, /Permission denied/);
});

test('with worker threads, reads of a handle buffer are served while the JS thread is blocked', async (t) => {
  const fs = new TestFs();
  fs.add('f', 'served without JS\n', 'buffer');
  const { mountpoint } = await mountTestFs(t, fs, { threads: 2 });
  // The child opens the file, then on SIGUSR2 reads it and prints when the read returned.
  const script = `
    const fs = require('node:fs'); const fd = fs.openSync(process.argv[1], 'r');
    const keepAlive = setInterval(() => {}, 60000);
    process.on('SIGUSR2', () => { const b = Buffer.alloc(64); const n = fs.readSync(fd, b, 0, 64, 0);
      console.log(JSON.stringify({ at: Date.now(), text: b.subarray(0, n).toString() })); clearInterval(keepAlive); });
    console.log('ready');`;
  const child = startChild(t, process.execPath, ['-e', script, join(mountpoint, 'f')]);
  await waitFor('the child to open the file and catch SIGUSR2', () => child.stdout().includes('ready\n'), {
    timeoutMs: 60_000,
    intervalMs: 5,
  });
  // Block this (the JS) thread for 3 s: a JS-thread reader could not serve anything now.
  const blockedFrom = Date.now();
  process.kill(child.pid, 'SIGUSR2');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3000);
  const blockedUntil = Date.now();
  const r = await child.done;
  const { at, text } = JSON.parse(r.stdout.toString().trim().split('\n').at(-1)!) as { at: number; text: string };
  t.is(text, 'served without JS\n');
  t.true(
    at >= blockedFrom && at < blockedUntil,
    `read returned at +${at - blockedFrom} ms of a ${blockedUntil - blockedFrom} ms block`,
  );
});
