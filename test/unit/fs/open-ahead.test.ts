// Opening ahead (view-state.ts openAhead): an allowed lookup of a secret whose plaintext is
// decrypted already leases the open that follows to the addon, so that open is answered in C. The
// lease carries the decision JS's own open would make, its audit line is the one JS's open writes,
// and nothing is ever decrypted for a lookup.
import test from 'ava';
import { createPalFilesystem, ROOT_INO } from '../../../src/fs/index.js';
import type { FastPathCaller } from '../../../src/native/index.js';
import { harness, entry, container, ctx, fakeFastPath, IMAGE_DEMO } from './fakes.js';

const FIRST = 101; // opens first, through JS: the decrypt
const NEXT = 102; // a new process of the same container
const NEXT_OTHER = 103;

interface Leased {
  readonly generation: number;
  readonly caller: FastPathCaller;
  readonly ino: number;
  readonly id: number;
  readonly fhs: readonly number[];
}

/** A fake of the addon's cache that takes every lease (and remembers it) at the generation it was told. */
function fakeAddon() {
  const leased: Leased[] = [];
  const state = { generation: 0 };
  const addon = fakeFastPath({
    setGeneration: (g) => void (state.generation = g),
    remember: (generation) => generation === state.generation,
    lease: (generation, caller, ino, id, content, fhs) => {
      content.wipe();
      if (generation !== state.generation) return false;
      leased.push({ generation, caller, ino, id, fhs: [...fhs] });
      return true;
    },
  });
  return { addon, leased, state };
}

function setup(fastPath = true) {
  const h = harness([entry('db-password', ['demo'], { size: 14 })]);
  for (const pid of [FIRST, NEXT, NEXT_OTHER]) h.identities.set(pid, container(pid, IMAGE_DEMO, 'app'));
  h.plaintexts.set('db-password', { bytes: Buffer.from('hunter2-secret') });
  const fs = createPalFilesystem({ ...h.deps, fastPath });
  const fake = fakeAddon();
  fs.attachKernel({ invalidateEntry: () => undefined, invalidateInode: () => undefined, fastPath: fake.addon });
  return { h, fs, ...fake };
}

/** The first open of the secret by any process: JS decrypts it and learns what it holds. */
async function openThroughJs(s: ReturnType<typeof setup>, pid = FIRST): Promise<number> {
  const ino = (await s.fs.handlers.lookup(ctx(pid), ROOT_INO, 'db-password')).attr.ino;
  const opened = await s.fs.handlers.open(ctx(pid), ino, 0);
  await s.fs.handlers.release(ctx(pid), ino, opened.fh);
  return ino;
}

test('a lookup of a decrypted secret leases the open to the addon, with no decrypt and no audit line', async (t) => {
  const s = setup();
  const ino = await openThroughJs(s);
  const before = { decrypts: s.h.decrypts.length, audit: s.h.audit.length, leases: s.leased.length };
  s.h.clock.now = 10;
  const e = await s.fs.handlers.lookup(ctx(NEXT), ROOT_INO, 'db-password');
  t.is(s.h.decrypts.length, before.decrypts, 'nothing decrypted for a lookup');
  t.is(s.h.audit.length, before.audit, 'a lookup writes no line; the open will');
  const mine = s.leased.slice(before.leases);
  t.is(mine.length, 1);
  t.is(mine[0]!.ino, ino);
  t.is(e.attr.ino, ino);
  t.deepEqual(mine[0]!.caller, { pid: NEXT, uid: 1000, gid: 1000, startTime: '1', remainingMs: 50 });
  t.is(mine[0]!.generation, s.state.generation);
  t.is(mine[0]!.fhs.length, 1, 'one handle booked: the open that follows');
});

test("the leased open's audit line is the one JS's own open writes", async (t) => {
  const viaLease = setup();
  await openThroughJs(viaLease);
  const ino = (await viaLease.fs.handlers.lookup(ctx(NEXT), ROOT_INO, 'db-password')).attr.ino;
  const lease = viaLease.leased.at(-1)!;
  viaLease.h.audit.length = 0;
  // What the addon reports after answering the open from the lease.
  const fh = lease.fhs.at(-1)!;
  viaLease.fs.handlers.fastEvent!({
    kind: 'opened',
    ctx: ctx(NEXT),
    ino,
    fh,
    lease: lease.id,
    latencyUs: 3,
    timeMs: Date.now(),
    closed: false,
    returned: false,
    audited: false,
  });

  const viaJs = setup();
  await openThroughJs(viaJs);
  viaJs.h.audit.length = 0;
  const jsIno = (await viaJs.fs.handlers.lookup(ctx(NEXT), ROOT_INO, 'db-password')).attr.ino;
  const opened = await viaJs.fs.handlers.open(ctx(NEXT), jsIno, 0); // asked of JS, as without the lease
  await viaJs.fs.handlers.release(ctx(NEXT), jsIno, opened.fh);

  const stable = (a: (typeof viaJs.h.audit)[number]) => ({ ...a, time: undefined, latency_us: undefined });
  t.is(viaLease.h.audit.length, 1);
  t.deepEqual(viaLease.h.audit.map(stable), viaJs.h.audit.map(stable));
  t.is(viaLease.h.audit[0]!.decision, 'allow');
  t.is(viaLease.h.audit[0]!.op, 'open');
});

test('nothing is leased for a secret not decrypted yet: the open comes to JS, which decrypts', async (t) => {
  const s = setup();
  await s.fs.handlers.lookup(ctx(NEXT), ROOT_INO, 'db-password');
  t.is(s.leased.length, 0);
  t.deepEqual(s.h.decrypts, [], 'a lookup never decrypts');
});

test('nothing is leased when the cached payload says something pald has not learnt (JS must decide and learn)', async (t) => {
  const s = setup();
  await openThroughJs(s);
  const leases = s.leased.length;
  // Same version, but the payload now names other labels (ones the caller holds) than those learnt at the decrypt.
  s.h.plaintexts.set('db-password', { bytes: Buffer.from('hunter2-secret'), sealedLabels: ['demo', 'extra'] });
  await s.fs.handlers.lookup(ctx(NEXT), ROOT_INO, 'db-password');
  t.is(s.leased.length, leases);
});

test('nothing is leased when the generation moved during the lookup, or with the warm path off', async (t) => {
  const s = setup();
  await openThroughJs(s);
  const leases = s.leased.length;
  const original = s.h.deps.identity.resolve.bind(s.h.deps.identity);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  (s.h.deps.identity as { resolve: typeof original }).resolve = async (c) => {
    await gate;
    return original(c);
  };
  const pending = s.fs.handlers.lookup(ctx(NEXT_OTHER), ROOT_INO, 'db-password');
  s.fs.forgetCallers(); // e.g. a runtime event while the caller is being attributed
  release();
  await pending;
  t.is(s.leased.length, leases);

  const off = setup(false);
  await openThroughJs(off);
  await off.fs.handlers.lookup(ctx(NEXT), ROOT_INO, 'db-password');
  t.is(off.leased.length, 0);
});

test('a caller that may not open the secret gets no lease (and no entry)', async (t) => {
  const s = setup();
  await openThroughJs(s);
  const leases = s.leased.length;
  s.h.identities.set(NEXT, container(NEXT, 'sha256:' + 'b'.repeat(64), 'other'));
  await t.throwsAsync(async () => s.fs.handlers.lookup(ctx(NEXT), ROOT_INO, 'db-password'));
  t.is(s.leased.length, leases);
});
