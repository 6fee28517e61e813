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
import { harness, entry, container, ctx, fakeFastPath, fireTimers, IMAGE_DEMO, IMAGE_PLAIN } from './fakes.js';
import { SETTLE_MS } from '../../../src/fs/standing-sponsors.js';

const INIT = 201; // the container's init: never makes a request itself
const FIRST = 202; // its first process, and an earlier container's process that decrypted
const CGROUP = '0::/system.slice/docker-app.scope\n';

function setup(opts: { fastPath?: boolean; identity?: Identity; secrets?: number; trustExpires?: boolean } = {}) {
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
    ...(opts.trustExpires === false
      ? {
          trust: {
            verifiedLabels: async (image) => {
              const { expiresAt: _expiry, ...decision } = await h.deps.trust.verifiedLabels(image);
              return decision;
            },
          },
        }
      : {}),
    fastPath: opts.fastPath ?? true,
  });
  const remembered: { pid: number; name: string; attr: FileAttr }[] = [];
  const vouched: { pid: number; cgroup: string }[] = [];
  const leased: { pid: number; ino: number }[] = [];
  const extended: { pid: number; remainingMs: number }[] = [];
  const addon = fakeFastPath({
    extend: (_g, who) => extended.push({ pid: who.pid, remainingMs: who.remainingMs }) > 0,
    remember: (_g, who, name, attr) => remembered.push({ pid: who.pid, name, attr }) > 0,
    vouch: (_g, who, cgroup) => vouched.push({ pid: who.pid, cgroup }) > 0,
    lease: (_g, who, ino, _id, content) => {
      content.wipe();
      leased.push({ pid: who.pid, ino });
      return true;
    },
  });
  fs.attachKernel({ invalidateEntry: () => undefined, invalidateInode: () => undefined, fastPath: addon });
  return { h, fs, remembered, vouched, leased, extended };
}

/** Lets the sponsors a timer started finish (each one attestation, awaited once). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
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

test('a forget (another container died) decides the standing sponsors again, at the new generation, once per burst', async (t) => {
  const s = setup();
  t.is(await s.fs.sponsor(ctx(INIT)), 2);
  s.remembered.length = 0;
  for (let i = 0; i < 5; i++) s.fs.forgetCallers(); // five deaths in a row
  t.deepEqual(s.remembered, [], 'not at each bump');
  s.h.clock.now += SETTLE_MS;
  t.is(fireTimers(s.h), 1);
  await settle();
  t.deepEqual(
    s.remembered.map((r) => [r.pid, r.name]),
    [
      [INIT, 'db-password'],
      [INIT, 'api-key'],
    ],
    'one pass after the burst',
  );
  // Its own container gone: attested afresh, nothing decided, and no longer standing.
  s.h.identities.delete(INIT);
  s.remembered.length = 0;
  s.fs.forgetCallers();
  s.h.clock.now += SETTLE_MS;
  fireTimers(s.h);
  await settle();
  t.deepEqual(s.remembered, []);
  s.h.identities.set(INIT, container(INIT, IMAGE_DEMO, 'app'));
  s.fs.forgetCallers();
  s.h.clock.now += SETTLE_MS;
  fireTimers(s.h);
  await settle();
  t.deepEqual(s.remembered, [], 'dropped: not decided again');
});

test("a sponsor stands until its image's trust decision is due, then is decided again from a fresh attestation", async (t) => {
  const s = setup();
  const trustLeft = 30_000; // the fake trust decision expires 30 s after the harness was made
  t.is(await s.fs.sponsor(ctx(INIT)), 2);
  t.is(s.extended.length, 1);
  t.is(s.extended[0]!.pid, INIT);
  const ms = s.extended[0]!.remainingMs;
  t.true(ms > 20_000 && ms <= trustLeft, `stands ${ms} ms`);
  s.remembered.length = 0;
  s.h.clock.now += ms - 1;
  fireTimers(s.h);
  await settle();
  t.deepEqual(s.remembered, [], 'not before its deadline');
  s.h.clock.now += 1;
  fireTimers(s.h);
  await settle();
  t.deepEqual(
    s.remembered.map((r) => r.name),
    ['db-password', 'api-key'],
    'decided again at its deadline',
  );
});

test('a sponsor stands no longer than the cache holds a plaintext its lease shares', async (t) => {
  const s = setup();
  s.h.cacheTtlMs = 7_000;
  await decryptDbPassword(s);
  t.is(await s.fs.sponsor(ctx(INIT)), 2);
  t.deepEqual(
    s.leased.map((l) => l.pid),
    [INIT],
  );
  t.deepEqual(
    s.extended.map((e) => e.remainingMs),
    [7_000],
  );
});

test('a sponsor whose trust decision has no expiry does not stand past its window', async (t) => {
  const s = setup({ trustExpires: false });
  t.is(await s.fs.sponsor(ctx(INIT)), 2);
  t.deepEqual(s.extended, []);
});
