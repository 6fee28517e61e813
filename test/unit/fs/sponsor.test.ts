// A container's start sponsored (view-state.ts sponsor): its init is attested ahead of the first
// open, and the lookups of the container's secrets are decided for it exactly as the lookup
// handler decides them, so that the addon adopts the container's first process. What it may do:
// remember allowed lookups, vouch for the init by its cgroup text, lease opens of cached plaintexts.
// What it must not: decide anything a lookup would not allow, decrypt, write an audit line, or
// sponsor a caller that is not a trusted container.
import test from 'ava';
import { createPalFilesystem, ROOT_INO } from '../../../src/fs/index.js';
import type { FileAttr } from '../../../src/native/index.js';
import type { Identity } from '../../../src/identity/types.js';
import { harness, entry, container, ctx, fakeFastPath, IMAGE_DEMO, IMAGE_PLAIN } from './fakes.js';

const INIT = 201; // the container's init: never makes a request itself
const FIRST = 202; // its first process, and an earlier container's process that decrypted
const CGROUP = '0::/system.slice/docker-app.scope\n';

function setup(opts: { fastPath?: boolean; identity?: Identity; secrets?: number } = {}) {
  const entries = [
    entry('db-password', ['demo'], { size: 14 }),
    entry('api-key', ['demo'], { size: 7 }),
    entry('billing-key', ['billing'], { size: 5 }),
    ...Array.from({ length: opts.secrets ?? 0 }, (_, i) => entry(`extra-${i}`, ['demo'])),
  ];
  const h = harness(entries);
  h.identities.set(INIT, opts.identity ?? container(INIT, IMAGE_DEMO, 'app'));
  h.identities.set(FIRST, container(FIRST, IMAGE_DEMO, 'app'));
  h.plaintexts.set('db-password', { bytes: Buffer.from('hunter2-secret') });
  h.plaintexts.set('api-key', { bytes: Buffer.from('k-12345') });
  const fs = createPalFilesystem({
    ...h.deps,
    identity: { ...h.deps.identity, containerCgroup: (pid) => (h.identities.get(pid) ? CGROUP : undefined) },
    fastPath: opts.fastPath ?? true,
  });
  const remembered: { pid: number; name: string; attr: FileAttr }[] = [];
  const vouched: { pid: number; cgroup: string }[] = [];
  const leased: { pid: number; ino: number }[] = [];
  const addon = fakeFastPath({
    remember: (_g, who, name, attr) => remembered.push({ pid: who.pid, name, attr }) > 0,
    vouch: (_g, who, cgroup) => vouched.push({ pid: who.pid, cgroup }) > 0,
    lease: (_g, who, ino, _id, content) => {
      content.wipe();
      leased.push({ pid: who.pid, ino });
      return true;
    },
  });
  fs.attachKernel({ invalidateEntry: () => undefined, invalidateInode: () => undefined, fastPath: addon });
  return { h, fs, remembered, vouched, leased };
}

/** An earlier container's first read: JS decrypts db-password (api-key is never decrypted). */
async function decryptDbPassword(s: ReturnType<typeof setup>): Promise<void> {
  const ino = (await s.fs.handlers.lookup(ctx(FIRST), ROOT_INO, 'db-password')).attr.ino;
  const opened = await s.fs.handlers.open(ctx(FIRST), ino, 0);
  await s.fs.handlers.release(ctx(FIRST), ino, opened.fh);
  s.remembered.length = s.vouched.length = s.leased.length = 0;
}

test("a started container's allowed lookups are decided for its init; only cached plaintexts are leased", async (t) => {
  const s = setup();
  await decryptDbPassword(s);
  const audit = s.h.audit.length;
  const decrypts = s.h.decrypts.length;
  t.is(await s.fs.sponsor(ctx(INIT)), 2);
  t.deepEqual(
    s.remembered.map((r) => [r.pid, r.name]),
    [
      [INIT, 'db-password'],
      [INIT, 'api-key'],
    ],
    'the secrets its labels allow, not billing-key',
  );
  t.true(s.vouched.length > 0 && s.vouched.every((v) => v.pid === INIT && v.cgroup === CGROUP));
  t.deepEqual(
    s.leased.map((l) => l.pid),
    [INIT],
    'one open leased: db-password, decrypted already; api-key would need a decrypt',
  );
  t.is(s.h.decrypts.length, decrypts, 'nothing decrypted');
  t.is(s.h.audit.length, audit, 'no audit line: nothing was asked yet');
});

test('what it remembers is what the lookup handler answers a process of that container', async (t) => {
  const s = setup();
  await s.fs.sponsor(ctx(INIT));
  const sponsored = new Map(s.remembered.map((r) => [r.name, r.attr]));
  for (const name of ['db-password', 'api-key']) {
    const reply = await s.fs.handlers.lookup(ctx(FIRST), ROOT_INO, name);
    t.deepEqual(sponsored.get(name), reply.attr, name);
  }
  await t.throwsAsync(async () => s.fs.handlers.lookup(ctx(FIRST), ROOT_INO, 'billing-key'));
  t.false(sponsored.has('billing-key'));
});

test('no more secrets than the addon remembers per caller', async (t) => {
  const s = setup({ secrets: 30 });
  t.is(await s.fs.sponsor(ctx(INIT)), 16);
  t.is(new Set(s.remembered.map((r) => r.name)).size, 16);
});

for (const [what, opts] of [
  ['an untrusted image (no labels)', { identity: container(INIT, IMAGE_PLAIN, 'plain') }],
  [
    'a caller pald cannot attribute',
    { identity: { kind: 'unknown', pid: INIT, tgid: INIT, uid: 1000, gid: 1000, reason: 'x' } as Identity },
  ],
  ['a host process', { identity: { kind: 'host', pid: INIT, tgid: INIT, uid: 0, gid: 0 } as Identity }],
  ['the warm path off', { fastPath: false }],
] as const) {
  test(`nothing is sponsored for ${what}`, async (t) => {
    const s = setup(opts);
    t.is(await s.fs.sponsor(ctx(INIT)), 0);
    t.deepEqual([s.remembered, s.vouched, s.leased], [[], [], []]);
    t.is(s.h.audit.length, 0);
  });
}

test('a forget (another container died) decides a start sponsored a moment ago again, at the new generation', async (t) => {
  const s = setup();
  t.is(await s.fs.sponsor(ctx(INIT)), 2);
  s.remembered.length = 0;
  s.fs.forgetCallers();
  await new Promise((r) => setImmediate(r));
  t.deepEqual(
    s.remembered.map((r) => [r.pid, r.name]),
    [
      [INIT, 'db-password'],
      [INIT, 'api-key'],
    ],
  );
  // Its own container gone: attested afresh, nothing decided, and no longer kept.
  s.h.identities.delete(INIT);
  s.remembered.length = 0;
  s.fs.forgetCallers();
  await new Promise((r) => setImmediate(r));
  t.deepEqual(s.remembered, []);
  s.h.identities.set(INIT, container(INIT, IMAGE_DEMO, 'app'));
  s.fs.forgetCallers();
  await new Promise((r) => setImmediate(r));
  t.deepEqual(s.remembered, [], 'dropped: not decided again');
});

test('a secret whose sealing asks for more labels than the manifest is not decided ahead once pald learnt them', async (t) => {
  const s = setup();
  (s.h.manifest.view.entries as Map<string, unknown>).set('sealed-more', entry('sealed-more', ['demo'], { size: 4 }));
  s.h.plaintexts.set('sealed-more', {
    bytes: Buffer.from('x123'),
    sealedName: 'sealed-more',
    sealedLabels: ['billing'],
  });
  const ino = (await s.fs.handlers.lookup(ctx(FIRST), ROOT_INO, 'sealed-more')).attr.ino;
  await t.throwsAsync(async () => s.fs.handlers.open(ctx(FIRST), ino, 0), undefined, 'denied by its sealed labels');
  s.remembered.length = 0;
  await s.fs.sponsor(ctx(INIT));
  t.deepEqual(s.remembered.map((r) => r.name).sort(), ['api-key', 'db-password']);
});
