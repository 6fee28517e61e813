// A page-cache read (sendfile) of a file whose size the kernel holds too high (a bound, as pald
// states before a secret's first decrypt) must end at the true end, even when a read-ahead READ
// past the end is answered before the READ that holds the end (native/src/eof_gate.c). The order
// is forced: one thread of a caller sendfile()s from past the end, a second from the start; the
// JS read handler answers the READ past the end first, then the READ holding the end.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import test, { type ExecutionContext } from 'ava';

import { gate, mountTestFs, startChild, TestFs } from './native-fixture.js';

const BOUND = 16 << 20; // what pald states before a first decrypt (limits.secret_bytes)
const content = randomBytes(300 * 1024 + 17); // ends inside the third 128 KiB read
const PAST = 384 * 1024; // a page-aligned offset past the end, inside the bound

// Thread `past` sendfile()s from PAST once started; on "go" on stdin the main thread sendfile()s
// the file from 0 into `whole` until sendfile returns 0. Prints the byte counts of both.
const caller = `
import os, sys, threading
fd = os.open(sys.argv[1], os.O_RDONLY)
past_out = os.open(sys.argv[2] + '.past', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
whole_out = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
got = {}
def past():
    got['past'] = os.sendfile(past_out, fd, ${PAST}, 65536)
t = threading.Thread(target=past)
t.start()
if sys.stdin.readline().strip() == 'go':
    off = 0
    while True:
        n = os.sendfile(whole_out, fd, off, 1 << 20)
        if n == 0:
            break
        off += n
    got['whole'] = off
t.join()
print(got.get('past'), got.get('whole'))
`;

interface Run {
  readonly past: number;
  readonly whole: number;
  readonly bytes: Buffer;
}

/**
 * Mounts one file stated at BOUND and served by JS; with `tellTrueSize` the open tells the addon
 * its real size. The READ past the end is answered only once the READ of the end has arrived, and
 * the READ of the end only after that (so the kernel has both in flight and gets the answer past
 * the end first). `startGo: false`: no second reader; the READ past the end is answered at once.
 * `threads`: the addon's reader threads (0: the JS thread reads /dev/fuse; pald runs 2 workers).
 */
async function race(t: ExecutionContext, threads: number, tellTrueSize: boolean, startGo = true): Promise<Run> {
  const fs = new TestFs();
  const file = fs.add('bounded', content, 'js');
  const h = fs.handlers;
  const lookup = h.lookup.bind(h);
  const getattr = h.getattr.bind(h);
  const open = h.open.bind(h);
  h.lookup = async (ctx, parent, name) => {
    const e = await lookup(ctx, parent, name);
    return { ...e, attr: { ...e.attr, size: BOUND } };
  };
  h.getattr = async (ctx, ino) => {
    const a = await getattr(ctx, ino);
    return ino === file.ino ? { ...a, attr: { ...a.attr, size: BOUND } } : a;
  };
  h.open = async (ctx, ino, flags) => ({
    ...(await open(ctx, ino, flags)),
    ...(tellTrueSize ? { trueSize: content.length } : {}),
  });
  const pastArrived = gate();
  const endArrived = gate();
  const pastAnswered = gate();
  h.read = async (_ctx, _ino, _fh, size, offset) => {
    if (offset > content.length) {
      pastArrived.open();
      if (startGo) await endArrived.promise;
      pastAnswered.open();
      return Buffer.alloc(0);
    }
    if (offset + size > content.length) {
      endArrived.open();
      await pastAnswered.promise;
      // The answer past the end is sent once its handler's promise settles (microtasks); a
      // macrotask turn later it has been, so this answer reaches the kernel second.
      await new Promise<void>((r) => setImmediate(r));
    }
    return content.subarray(offset, offset + size);
  };
  const { mountpoint } = await mountTestFs(t, fs, { threads });
  const scratch = await mkdtemp(join(tmpdir(), 'pal-eof-gate-'));
  t.teardown(() => rm(scratch, { recursive: true, force: true }));
  const out = join(scratch, 'whole');
  const child = startChild(t, 'python3', ['-c', caller, join(mountpoint, 'bounded'), out], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  await pastArrived.promise;
  child.stdin?.end(startGo ? 'go\n' : '\n');
  const r = await child.done;
  t.is(r.code, 0, r.stderr);
  const [past, whole] = r.stdout.toString().trim().split(' ');
  const bytes = startGo ? await readFile(out) : Buffer.alloc(0);
  return { past: Number(past), whole: whole === 'None' ? 0 : Number(whole), bytes };
}

for (const [threads, mode] of [
  [0, 'JS-thread reads'],
  [2, '2 worker threads'],
] as const) {
  test(`a READ past the end answered first does not stretch the file: the reader gets the plaintext, whole and only [${mode}]`, async (t) => {
    const run = await race(t, threads, true);
    t.is(run.past, 0, 'nothing past the end');
    t.is(run.whole, content.length);
    t.true(run.bytes.equals(content));
  });

  test(`control: without the true size the same order leaves zeros after the plaintext (the race is real) [${mode}]`, async (t) => {
    const run = await race(t, threads, false);
    t.is(run.past, 0);
    t.true(run.whole > content.length, `the kernel's size went to the offset past the end (${run.whole})`);
    t.true(run.bytes.subarray(0, content.length).equals(content));
    t.true(run.bytes.subarray(content.length).every((b) => b === 0));
  });

  test(`a READ past the end with no READ of the end in flight is answered when its wait is over [${mode}]`, async (t) => {
    const run = await race(t, threads, true, false);
    t.is(run.past, 0, 'answered (with nothing), not left hanging');
    t.is(run.whole, 0, 'no second reader');
  });
}
