// Secure memory: locked, undumpable, bounded, copied only on request, zero after wipe.
import { readFile } from 'node:fs/promises';
import { inspect } from 'node:util';

import test from 'ava';

import {
  allocSecureBuffer,
  lockedMemoryStats,
  secureBufferDebug,
  secureBufferFrom,
} from '../../../src/native/index.js';

async function lockedKb(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8');
  return Number(/^VmLck:\s+(\d+) kB$/m.exec(status)?.[1]);
}

/** The VmFlags line of the mapping that contains `address` (hex). */
async function vmFlagsAt(address: string): Promise<string[]> {
  const addr = BigInt(`0x${address}`);
  const smaps = (await readFile('/proc/self/smaps', 'utf8')).split('\n');
  let inside = false;
  for (const line of smaps) {
    const range = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (range) inside = BigInt(`0x${range[1]}`) <= addr && addr < BigInt(`0x${range[2]}`);
    else if (inside && line.startsWith('VmFlags:')) return line.slice(8).trim().split(/\s+/);
  }
  throw new Error(`no mapping holds ${address}`);
}

test('a new buffer is zero-filled, holds what is written, and reads back copies', (t) => {
  const b = allocSecureBuffer(32);
  t.is(b.length, 32);
  t.true(b.alive);
  t.deepEqual(b.read(), Buffer.alloc(32));
  b.write(Buffer.from('secret'), 4);
  t.is(b.read(4, 6).toString(), 'secret');
  const copy = b.read();
  copy.fill(0);
  t.is(b.read(4, 6).toString(), 'secret', 'read() returned a copy, not a view');
  b.wipe();
});

test('writes and reads outside the buffer are refused', (t) => {
  const b = allocSecureBuffer(8);
  t.throws(() => b.write(Buffer.alloc(9)), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => b.write(Buffer.alloc(1), 8), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => b.read(4, 5), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => b.read(-1, 1), { code: 'ERR_PAL_ARGS' });
  t.throws(() => allocSecureBuffer(-1), { code: 'ERR_PAL_ARGS' });
  t.throws(() => allocSecureBuffer(2 ** 31), { code: 'ERR_PAL_ARGS' });
  t.throws(() => b.write('text' as unknown as Uint8Array), { code: 'ERR_PAL_ARGS' });
  b.wipe();
});

test.serial('the memory is mlocked and excluded from core dumps', async (t) => {
  const before = await lockedKb();
  const b = allocSecureBuffer(64 * 1024);
  const info = secureBufferDebug.info(b);
  t.is(info.capacity, 64 * 1024);
  t.true((await lockedKb()) >= before + 64, 'VmLck grew by the buffer');
  const flags = await vmFlagsAt(info.address);
  t.true(flags.includes('lo'), `locked: ${flags.join(' ')}`);
  t.true(flags.includes('dd'), `dont-dump: ${flags.join(' ')}`);
  b.wipe();
  t.true((await lockedKb()) <= before + 4, 'wipe unlocked it');
});

test('after wipe the memory held zeroes, and the buffer is dead', (t) => {
  const b = secureBufferFrom(Buffer.from('correct horse battery staple'));
  t.is(b.read().toString(), 'correct horse battery staple');
  const after = secureBufferDebug.wipeAndReadBack(b);
  t.is(after?.length, 28);
  t.deepEqual(after, Buffer.alloc(28), 'every byte zero right after explicit_bzero');
  t.false(b.alive);
  t.throws(() => b.read(), { code: 'ERR_PAL_SECURE_WIPED' });
  t.throws(() => b.write(Buffer.from('x')), { code: 'ERR_PAL_SECURE_WIPED' });
  t.notThrows(() => b.wipe(), 'wipe is idempotent');
});

test('secureBufferFrom zeroes its source; clone copies inside native memory', (t) => {
  const src = Buffer.from('hunter2');
  const b = secureBufferFrom(src);
  t.deepEqual(src, Buffer.alloc(7));
  const c = b.clone();
  b.wipe();
  t.true(c.alive);
  t.is(c.read().toString(), 'hunter2');
  c.wipe();
  t.throws(() => c.clone(), { code: 'ERR_PAL_SECURE_WIPED' });
});

test('an empty buffer works and inspection never shows bytes', (t) => {
  const e = allocSecureBuffer(0);
  t.is(e.read().length, 0);
  const b = secureBufferFrom(Buffer.from('s3cr3t'));
  t.false(inspect(b).includes('s3cr3t'));
  t.false(JSON.stringify({ b }).includes('s3cr3t'));
  b.wipe();
  e.wipe();
});

test('only buffers from this module are accepted as secure', (t) => {
  t.throws(() => secureBufferDebug.info({ length: 1 } as never), { instanceOf: TypeError });
});

test('memory reused after a wipe comes back zeroed', (t) => {
  // Small wiped buffers are pooled (still locked) for the next allocation of their size.
  for (let i = 0; i < 20; i++) {
    const b = allocSecureBuffer(100);
    t.deepEqual(b.read(), Buffer.alloc(100), `allocation ${i}`);
    b.write(Buffer.alloc(100, 0xff));
    if (i % 2) b.wipe();
    else secureBufferDebug.wipeAndReadBack(b);
  }
  const big = allocSecureBuffer(3 * 4096 + 1);
  t.deepEqual(big.read(), Buffer.alloc(3 * 4096 + 1));
  big.wipe();
});

test('share() is another holder of the same memory: no copy, same address', (t) => {
  const b = secureBufferFrom(Buffer.from('one locked copy'));
  const s1 = b.share();
  const s2 = s1.share();
  for (const x of [b, s1, s2]) t.is(x.read().toString(), 'one locked copy');
  const addresses = new Set([b, s1, s2].map((x) => secureBufferDebug.info(x).address));
  t.is(addresses.size, 1, 'every holder points at the same memory');
  t.is(secureBufferDebug.info(b).holders, 3);
  t.throws(
    () => b.write(Buffer.from('x')),
    { code: 'ERR_PAL_SECURE_SHARED' },
    'shared memory never changes under its readers',
  );
  for (const x of [b, s1, s2]) x.wipe();
});

test('the memory outlives any holder but the last; the last one zeroes it', (t) => {
  const cache = secureBufferFrom(Buffer.from('rotated-away plaintext'));
  const handle = cache.share();
  // The cache evicts: it lets go of its reference, the open handle keeps reading.
  t.is(secureBufferDebug.wipeAndReadBack(cache), null, 'not wiped while a handle holds it');
  t.false(cache.alive);
  t.throws(() => cache.read(), { code: 'ERR_PAL_SECURE_WIPED' });
  t.throws(() => cache.share(), { code: 'ERR_PAL_SECURE_WIPED' });
  t.true(handle.alive);
  t.is(handle.read().toString(), 'rotated-away plaintext');
  t.is(secureBufferDebug.info(handle).holders, 1);
  // The last holder lets go: zeroed right then.
  t.deepEqual(secureBufferDebug.wipeAndReadBack(handle), Buffer.alloc(22));
  t.notThrows(() => cache.wipe(), 'wipe stays idempotent');
});

test.serial('shared holders lock the memory once, and the last release unlocks it', async (t) => {
  const size = 256 * 1024; // beyond the reuse pool: really unlocked at the end
  const before = lockedMemoryStats();
  const vmBefore = await lockedKb();
  const b = allocSecureBuffer(size);
  const shares = Array.from({ length: 200 }, () => b.share());
  const during = lockedMemoryStats();
  t.is(during.lockedBytes - before.lockedBytes, size, 'accounted once');
  t.is(during.lockedBuffers - before.lockedBuffers, 1);
  const vmDuring = await lockedKb();
  t.true(vmDuring - vmBefore >= size / 1024, `VmLck grew by the buffer (${vmBefore} -> ${vmDuring} kB)`);
  t.true(vmDuring - vmBefore < (2 * size) / 1024, `and not by one copy per holder (${vmBefore} -> ${vmDuring} kB)`);
  b.wipe();
  for (const s of shares.slice(1)) s.wipe();
  t.is(lockedMemoryStats().lockedBytes - before.lockedBytes, size, 'one holder left keeps it');
  t.is(shares[0]!.read(size - 4, 4).length, 4);
  shares[0]!.wipe();
  t.is(lockedMemoryStats().lockedBytes, before.lockedBytes);
  t.true((await lockedKb()) < vmDuring, 'unlocked after the last holder');
});
