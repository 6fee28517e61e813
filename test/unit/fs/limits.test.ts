// limits.open_handles_per_container and limits.locked_bytes at the filesystem (SPEC §3, §4):
// one locked copy per secret version whatever the number of handles, .pal/ files in ordinary
// memory, and ENFILE / ENOMEM for the caller over a limit while other containers keep working.
import test from 'ava';
import { constants } from 'node:os';
import { createPalFilesystem, ROOT_INO, PAL_DIR_INO } from '../../../src/fs/index.js';
import type { FuseError } from '../../../src/native/index.js';
import { HandleLedger, type HandleLimits } from '../../../src/fs/handle-ledger.js';
import type { SecureBuffer } from '../../../src/native/types.js';
import { harness, entry, container, ctx, FakeSecureBuffer, IMAGE_DEMO, type Harness } from './fakes.js';

const { ENFILE, ENOMEM } = constants.errno;
const PAGE = 4096;
const A = 201;
const B = 202;
const C = 203;

function setup(
  limits: HandleLimits,
  secrets = 10,
): Harness & { fs: ReturnType<typeof createPalFilesystem>; ledger: HandleLedger; allocations: number } {
  const names = Array.from({ length: secrets }, (_, i) => `s${i}`);
  const h = harness(names.map((n) => entry(n, ['demo'])));
  for (const n of names) h.plaintexts.set(n, { bytes: Buffer.alloc(PAGE, n) });
  h.identities.set(A, container(A, IMAGE_DEMO, 'hog'));
  h.identities.set(B, container(B, IMAGE_DEMO, 'neighbour'));
  h.identities.set(C, container(C, IMAGE_DEMO, 'third'));
  const ledger = new HandleLedger(() => limits);
  const out = { ...h, ledger, allocations: 0, fs: undefined as unknown as ReturnType<typeof createPalFilesystem> };
  out.fs = createPalFilesystem({
    ...h.deps,
    handles: ledger,
    allocSecure: (bytes) => {
      out.allocations++;
      return new FakeSecureBuffer(bytes);
    },
  });
  return out;
}

async function errnoOf(p: unknown): Promise<number | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as FuseError).errno;
  }
  return undefined;
}

async function inoOf(fs: ReturnType<typeof createPalFilesystem>, pid: number, name: string): Promise<number> {
  return (await fs.handlers.lookup(ctx(pid), ROOT_INO, name)).attr.ino;
}

test('every handle of one secret version reads the same copy; the last release lets go of it', async (t) => {
  const { fs, ledger } = setup({ openHandlesPerContainer: 1024, lockedBytes: 64 * PAGE, secretBytes: PAGE });
  const ino = await inoOf(fs, A, 's0');
  const replies = [];
  for (let i = 0; i < 200; i++) replies.push(await fs.handlers.open(ctx(i % 2 ? A : B), ino, 0));
  const memories = new Set(replies.map((r) => (r.content as FakeSecureBuffer).memory));
  t.is(memories.size, 1, '200 handles, one copy');
  const [memory] = memories;
  t.is(ledger.stats().lockedBytes, PAGE, 'counted once');
  // 200 handles, the ledger's own holder, and the buffer the secret source returned.
  t.is(memory!.holders, 202);
  for (const r of replies) {
    (r.content as SecureBuffer).wipe(); // what the addon does at release
    await fs.handlers.release(ctx(A), ino, r.fh);
  }
  t.is(memory!.holders, 1, 'only the source (the cache) holds it now');
  t.deepEqual(ledger.stats(), { openHandles: 0, lockedBytes: 0, pinnedCopies: 0, owners: 0 });
});

test('.pal files are served from ordinary memory, never locked, even for unknown callers', async (t) => {
  const s = setup({ openHandlesPerContainer: 1024, lockedBytes: 64 * PAGE, secretBytes: PAGE });
  for (const pid of [A, 999]) {
    const status = await s.fs.handlers.lookup(ctx(pid), PAL_DIR_INO, 'status');
    const reply = await s.fs.handlers.open(ctx(pid), status.attr.ino, 0);
    t.true(reply.content instanceof Uint8Array, 'plain bytes for the addon to copy into unlocked memory');
  }
  t.is(s.allocations, 0, 'no secure allocation');
  t.is(s.ledger.stats().lockedBytes, 0);
});

test('beyond open_handles_per_container that container gets ENFILE, on secrets and .pal files; the others keep opening', async (t) => {
  const { fs, audit, decrypts } = setup({ openHandlesPerContainer: 5, lockedBytes: 64 * PAGE, secretBytes: PAGE });
  const ino = await inoOf(fs, A, 's0');
  const status = (await fs.handlers.lookup(ctx(A), PAL_DIR_INO, 'status')).attr.ino;
  const held = [];
  for (let i = 0; i < 3; i++) held.push(await fs.handlers.open(ctx(A), ino, 0));
  for (let i = 0; i < 2; i++) held.push(await fs.handlers.open(ctx(A), status, 0));
  t.is(await errnoOf(fs.handlers.open(ctx(A), ino, 0)), ENFILE);
  t.is(await errnoOf(fs.handlers.open(ctx(A), status, 0)), ENFILE);
  t.like(audit.at(-1), { op: 'open', decision: 'deny', secret: 's0' });
  t.regex(audit.at(-1)!.reason, /open_handles_per_container/);
  // Refused before the decrypt: a container at its limit makes pald decrypt nothing.
  const before = decrypts.length;
  t.is(await errnoOf(fs.handlers.open(ctx(A), await inoOf(fs, A, 's1'), 0)), ENFILE);
  t.is(decrypts.length, before, 'no decrypt for an open over the limit');
  // Another container, and unknown callers, are not affected.
  for (let i = 0; i < 5; i++) t.truthy((await fs.handlers.open(ctx(B), ino, 0)).content);
  t.truthy((await fs.handlers.open(ctx(999), status, 0)).content);
  // A released handle is room again.
  await fs.handlers.release(ctx(A), ino, held[0]!.fh);
  t.truthy((await fs.handlers.open(ctx(A), ino, 0)).content);
  t.is(fs.openHandles(), 5 + 5 + 1);
});

test('beyond its share of locked_bytes a container gets ENOMEM; the others keep opening', async (t) => {
  // 16 pages in all; one container may pin 8 (half); secrets are one page each.
  const { fs, ledger } = setup({ openHandlesPerContainer: 1024, lockedBytes: 16 * PAGE, secretBytes: PAGE });
  for (let i = 0; i < 8; i++) await fs.handlers.open(ctx(A), await inoOf(fs, A, `s${i}`), 0);
  t.is(await errnoOf(fs.handlers.open(ctx(A), await inoOf(fs, A, 's8'), 0)), ENOMEM, 'a ninth distinct copy');
  t.truthy(
    (await fs.handlers.open(ctx(A), await inoOf(fs, A, 's0'), 0)).content,
    'more handles on a copy it holds cost nothing',
  );
  t.is(ledger.stats().lockedBytes, 8 * PAGE);
  // The neighbour still gets its secrets, new copies and shared ones.
  for (const n of ['s8', 's9', 's0', 's1'])
    t.truthy((await fs.handlers.open(ctx(B), await inoOf(fs, B, n), 0)).content, n);
  t.is(ledger.stats().lockedBytes, 10 * PAGE);
});

test('locked_bytes bounds all containers together: a new copy beyond it is ENOMEM, shared copies still open', async (t) => {
  // 8 pages in all, 4 per container.
  const { fs, ledger } = setup({ openHandlesPerContainer: 1024, lockedBytes: 8 * PAGE, secretBytes: PAGE });
  for (let i = 0; i < 4; i++) await fs.handlers.open(ctx(A), await inoOf(fs, A, `s${i}`), 0);
  for (let i = 4; i < 8; i++) await fs.handlers.open(ctx(B), await inoOf(fs, B, `s${i}`), 0);
  t.is(ledger.stats().lockedBytes, 8 * PAGE);
  t.is(await errnoOf(fs.handlers.open(ctx(C), await inoOf(fs, C, 's8'), 0)), ENOMEM);
  t.truthy(
    (await fs.handlers.open(ctx(C), await inoOf(fs, C, 's0'), 0)).content,
    'a copy already held costs nothing more',
  );
  t.is(ledger.stats().lockedBytes, 8 * PAGE);
});
