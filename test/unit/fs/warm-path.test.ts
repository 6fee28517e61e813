import test from 'ava';
import { createPalFilesystem, ROOT_INO } from '../../../src/fs/index.js';
import type { FastPathCaller, FileAttr } from '../../../src/native/index.js';
import { harness, entry, container, ctx, manifestOf, fakeFastPath, IMAGE_DEMO, IMAGE_PLAIN } from './fakes.js';

const APP = 101;
const PLAIN = 102;

/** A fake of the addon's cache: what was remembered, and the generation it was told. */
function fakeAddon() {
  const remembered: { generation: number; caller: FastPathCaller; name: string; attr: FileAttr }[] = [];
  const state = { generation: 0, enabled: false };
  // Leases are refused (their content wiped): this fake answers no open itself.
  const addon = fakeFastPath({
    enable: (on) => void (state.enabled = on),
    setGeneration: (g) => void (state.generation = g),
    remember: (generation, caller, name, attr) => {
      remembered.push({ generation, caller, name, attr });
      return generation === state.generation;
    },
  });
  return { addon, remembered, state };
}

function setup(fastPath = true) {
  const h = harness([entry('db-password', ['demo'], { size: 5 }), entry('billing-key', ['billing'])]);
  h.identities.set(APP, container(APP, IMAGE_DEMO, 'app'));
  h.identities.set(PLAIN, container(PLAIN, IMAGE_PLAIN, 'other'));
  h.plaintexts.set('db-password', { bytes: Buffer.from('hunter2-secret') });
  const fs = createPalFilesystem({ ...h.deps, fastPath });
  const fake = fakeAddon();
  fs.attachKernel({ invalidateEntry: () => undefined, invalidateInode: () => undefined, fastPath: fake.addon });
  return { h, fs, ...fake };
}

test('an allowed lookup and getattr are handed to the addon for that process, for what is left of its window', async (t) => {
  const { fs, remembered, state, h } = setup();
  t.true(state.enabled);
  h.clock.now = 10;
  const e = await fs.handlers.lookup(ctx(APP), ROOT_INO, 'db-password');
  h.clock.now = 30;
  await fs.handlers.getattr(ctx(APP), e.attr.ino);
  t.deepEqual(
    remembered.map((r) => [r.name, r.caller, r.generation === state.generation]),
    [
      ['db-password', { pid: APP, uid: 1000, gid: 1000, startTime: '1', remainingMs: 50 }, true],
      ['db-password', { pid: APP, uid: 1000, gid: 1000, startTime: '1', remainingMs: 30 }, true],
    ],
  );
  t.deepEqual(remembered[0]!.attr, e.attr);
});

test('denials, unknown names and opens are never handed over', async (t) => {
  const { fs, remembered } = setup();
  await t.throwsAsync(async () => fs.handlers.lookup(ctx(APP), ROOT_INO, 'billing-key'));
  await t.throwsAsync(async () => fs.handlers.lookup(ctx(APP), ROOT_INO, 'no-such'));
  await t.throwsAsync(async () => fs.handlers.lookup(ctx(PLAIN), ROOT_INO, 'db-password'));
  await t.throwsAsync(async () => fs.handlers.lookup(ctx(999), ROOT_INO, 'db-password'));
  const ino = (await fs.handlers.lookup(ctx(APP), ROOT_INO, 'db-password')).attr.ino;
  const opened = await fs.handlers.open(ctx(APP), ino, 0);
  await fs.handlers.release(ctx(APP), ino, opened.fh);
  t.deepEqual(
    remembered.map((r) => [r.caller.pid, r.name]),
    [[APP, 'db-password']],
  );
});

test('after the reuse window the caller is attested afresh and handed over as the process it is now', async (t) => {
  const { fs, remembered, h } = setup();
  h.startTimes.set(APP, '1');
  await fs.handlers.lookup(ctx(APP), ROOT_INO, 'db-password');
  h.clock.now += 50; // the reuse window is over: JS would attest the process afresh
  h.startTimes.set(APP, '2'); // and it is another process by now (pid reused)
  await fs.handlers.lookup(ctx(APP), ROOT_INO, 'db-password');
  t.deepEqual(
    remembered.map((r) => r.caller.startTime),
    ['1', '2'],
  );
});

test('the generation moves on manifest changes, forgotten callers and newly learnt sealed facts only', async (t) => {
  const { fs, state, h } = setup();
  const g0 = state.generation;
  fs.manifestChanged(manifestOf([entry('db-password', ['demo'], { size: 5, version: 'v2' })]), h.manifest.view);
  t.true(state.generation > g0);
  const g1 = state.generation;
  fs.forgetCallers();
  t.true(state.generation > g1);
  const g2 = state.generation;
  const ino = (await fs.handlers.lookup(ctx(APP), ROOT_INO, 'db-password')).attr.ino;
  const first = await fs.handlers.open(ctx(APP), ino, 0); // learns the sealed facts
  t.true(state.generation > g2);
  const g3 = state.generation;
  const again = await fs.handlers.open(ctx(APP), ino, 0); // the same facts: nothing changed
  t.is(state.generation, g3);
  await fs.handlers.release(ctx(APP), ino, first.fh);
  await fs.handlers.release(ctx(APP), ino, again.fh);
});

test('a decision that began before the generation moved is not handed over', async (t) => {
  const { fs, remembered, state, h } = setup();
  const original = h.deps.identity.resolve.bind(h.deps.identity);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  (h.deps.identity as { resolve: typeof original }).resolve = async (c) => {
    await gate;
    return original(c);
  };
  const pending = fs.handlers.lookup(ctx(APP), ROOT_INO, 'db-password');
  fs.forgetCallers(); // e.g. a runtime event while the caller is being attributed
  release();
  await pending;
  t.is(remembered.length, 0);
  t.true(state.generation > 0);
});

test('with the switch off nothing reaches the addon', async (t) => {
  const { fs, remembered, state } = setup(false);
  await fs.handlers.lookup(ctx(APP), ROOT_INO, 'db-password');
  t.false(state.enabled);
  t.is(remembered.length, 0);
});
