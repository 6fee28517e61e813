// The size lookup/getattr state for a secret: exact once a decrypt learnt it, never below the
// plaintext's before (a sendfile/splice read ends at the kernel's size even under direct I/O).

import test from 'ava';
import { createPalFilesystem, ROOT_INO, HandleLedger, DEFAULT_HANDLE_LIMITS } from '../../../src/fs/index.js';
import { harness, entry, container, ctx, IMAGE_DEMO } from './fakes.js';

const PID = 201;
const O_RDONLY = 0;

function setup(limits = DEFAULT_HANDLE_LIMITS) {
  const h = harness([
    entry('unsized', ['demo']),
    entry('bounded', ['demo'], { sizeBound: 900 }),
    entry('sized', ['demo'], { size: 7 }),
  ]);
  h.identities.set(PID, container(PID, IMAGE_DEMO, 'app'));
  for (const name of ['unsized', 'bounded', 'sized'])
    h.plaintexts.set(name, { bytes: Buffer.from('exactly-19-bytes!!!') });
  const fs = createPalFilesystem({ ...h.deps, handles: new HandleLedger(() => limits) });
  return { h, fs };
}

async function sizeOf(fs: ReturnType<typeof setup>['fs'], name: string): Promise<{ ino: number; size: number }> {
  const { attr } = await fs.handlers.lookup(ctx(PID), ROOT_INO, name);
  return { ino: attr.ino, size: attr.size };
}

test('before the first decrypt: size: when the manifest has it, else the bound, else limits.secret_bytes', async (t) => {
  const { fs, h } = setup({ ...DEFAULT_HANDLE_LIMITS, secretBytes: 4096 });
  t.is((await sizeOf(fs, 'unsized')).size, 4096, 'not 0: the kernel would end the first read there');
  t.is((await sizeOf(fs, 'bounded')).size, 900);
  t.is((await sizeOf(fs, 'sized')).size, 7);
  const listed = await fs.handlers.readdir(ctx(PID), ROOT_INO);
  t.is(listed.find((e) => e.name === 'unsized')?.attr.size, 4096);
  t.deepEqual(h.decrypts, [], 'no decrypt to learn a size');
});

test('after the first decrypt: the exact size, in lookup, getattr and readdir', async (t) => {
  const { fs } = setup();
  for (const name of ['unsized', 'bounded', 'sized']) {
    const { ino } = await sizeOf(fs, name);
    const reply = await fs.handlers.open(ctx(PID), ino, O_RDONLY);
    t.true(reply.directIo);
    await fs.handlers.release(ctx(PID), ino, reply.fh);
    t.is((await sizeOf(fs, name)).size, 19, name);
    t.is((await fs.handlers.getattr(ctx(PID), ino)).attr.size, 19, name);
  }
  const listed = await fs.handlers.readdir(ctx(PID), ROOT_INO);
  t.true(listed.filter((e) => e.name !== '.pal').every((e) => e.attr.size === 19));
});

test('the open after a bound was stated tells the addon the true size; once the kernel holds the exact size, no open does', async (t) => {
  const { fs } = setup();
  for (const name of ['unsized', 'bounded']) {
    const { ino } = await sizeOf(fs, name);
    const first = await fs.handlers.open(ctx(PID), ino, O_RDONLY);
    t.is(first.trueSize, 19, `${name}: the lookup stated a bound, the open learnt 19`);
    await fs.handlers.release(ctx(PID), ino, first.fh);
    t.is((await sizeOf(fs, name)).size, 19);
    const later = await fs.handlers.open(ctx(PID), ino, O_RDONLY);
    t.is(later.trueSize, undefined, `${name}: the last lookup stated the exact size`);
    await fs.handlers.release(ctx(PID), ino, later.fh);
  }
  const { ino } = await sizeOf(fs, 'sized');
  const sized = await fs.handlers.open(ctx(PID), ino, O_RDONLY);
  t.is(sized.trueSize, undefined, 'size: is exact from the start');
  await fs.handlers.release(ctx(PID), ino, sized.fh);
});
