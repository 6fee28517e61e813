// Warm-path leases (src/fs/open-leases.ts) against a fake of the addon: handles booked for a lease
// count against the owner's limit like opens, the unused ones come back when the addon retires
// the lease, and before a limit refusal every lease is retired so booked-but-unused handles never
// make the limit bite earlier than without the warm path.
import test from 'ava';
import { HandleLedger } from '../../../src/fs/handle-ledger.js';
import { OpenHandles } from '../../../src/fs/open-handles.js';
import { OpenLeases, type OpenDecision } from '../../../src/fs/open-leases.js';
import { WarmPath } from '../../../src/fs/warm-path.js';
import { Errno, FuseError, type FastPath, type FastPathEvent, type RetiredLease } from '../../../src/native/index.js';
import type { Caller } from '../../../src/policy/index.js';
import { FakeSecureBuffer } from './fakes.js';

const OWNER = 'container:app';
const KEY = 'db-password\0v1';

function setup(limit: number) {
  const leased: { id: number; fhs: number[] }[] = [];
  const retired: RetiredLease[] = [];
  // Events the addon queued and JS has not heard of yet (delivered by drain(), or later).
  const queued: FastPathEvent[] = [];
  const late: { leases?: OpenLeases } = {};
  const addon: FastPath = {
    enable: () => undefined,
    setGeneration: () => undefined,
    remember: () => true,
    lease: (_g, _c, _ino, id, content, fhs) => {
      content.wipe();
      leased.push({ id, fhs: [...fhs] });
      return true;
    },
    // What the addon does: every live lease retired, its unused numbers listed (none in use here
    // but the ones the test marks).
    retireLeases: () => {
      for (const l of leased.splice(0)) retired.push({ lease: l.id, inUse: 1, opened: 1, free: l.fhs.slice(1) });
    },
    expire: () => undefined,
    takeRetired: () => retired.splice(0),
    drain: () => {
      for (const e of queued.splice(0)) late.leases!.event(e);
    },
    stats: () => {
      throw new Error('not used');
    },
  };
  const ledger = new HandleLedger(() => ({ openHandlesPerContainer: limit, lockedBytes: 1 << 20, secretBytes: 4096 }));
  const handles = new OpenHandles(() => undefined);
  const warm = new WarmPath(true);
  warm.attach(addon);
  const audit: { d: OpenDecision; timeMs: number; latencyUs: number }[] = [];
  const leases = (late.leases = new OpenLeases({
    warm,
    ledger,
    handles,
    auditOpen: (d, timeMs, latencyUs) => audit.push({ d, timeMs, latencyUs }),
  }));
  const plaintext = new FakeSecureBuffer(Buffer.from('hunter2-secret'));
  const decision = { caller: {} as Caller, name: 'db-password', ino: 5, reason: 'labels match', reasonClass: 'allow' };
  const offer = () =>
    leases.offer({
      ...decision,
      generation: warm.generation,
      ctx: { pid: 42, uid: 1000, gid: 1000 },
      reuse: { startTime: '7', remainingMs: 50 },
      owner: OWNER,
      key: KEY,
      plaintext,
    });
  return { leased, retired, ledger, handles, leases, audit, offer, plaintext, queued };
}

test('a lease books what the limit leaves, and a limit refusal first takes the unused bookings back', (t) => {
  const { leased, ledger, handles, leases, audit, offer, plaintext } = setup(4);
  ledger.openSecret(OWNER, 100, KEY, plaintext); // JS's own open
  handles.add(100, { ino: 5, name: 'db-password' });
  offer();
  t.is(leased.length, 1);
  const { id, fhs } = leased[0]!;
  t.is(fhs.length, 3, 'as many as the limit leaves');
  t.is(ledger.headroom(OWNER), 0);

  // The addon opened one: JS writes the same allow line and counts the handle.
  leases.event({
    kind: 'opened',
    ctx: { pid: 42, uid: 1000, gid: 1000 },
    ino: 5,
    fh: fhs[0]!,
    lease: id,
    latencyUs: 3,
    timeMs: 1_700_000_000_123,
    closed: false,
    returned: false,
    audited: false,
  });
  // ... at the time and with the latency of the open, not of the moment JS heard of it.
  t.like(audit[0], { d: { name: 'db-password', reason: 'labels match' }, timeMs: 1_700_000_000_123, latencyUs: 3 });
  t.is(handles.size, 2);

  // Another open of the owner through JS: at the limit only because of bookings nobody uses.
  t.notThrows(() => leases.admit(() => ledger.admitHandle(OWNER)));
  t.is(ledger.stats().openHandles, 2, "JS's handle and the one the addon opened");

  // Its close comes back after the retirement: the number is the ledger's to release.
  leases.event({ kind: 'released', ino: 5, fh: fhs[0]!, lease: id, returned: false });
  t.is(ledger.stats().openHandles, 1);
  t.is(handles.size, 1);
});

test('an open the addon folded its close into counts as opened and closed: one audit line, no handle left', (t) => {
  const { leased, ledger, handles, leases, audit, offer, plaintext } = setup(8);
  ledger.openSecret(OWNER, 100, KEY, plaintext); // JS's own open, kept: the inode stays open
  handles.add(100, { ino: 5, name: 'db-password' });
  const headroom = ledger.headroom(OWNER);
  offer();
  const { id, fhs } = leased[0]!;
  t.is(ledger.headroom(OWNER), headroom - fhs.length, 'booked: they count against the limit');
  t.is(ledger.stats().openHandles, 1, "but are not open: pal status lists JS's one");
  const ctx = { pid: 42, uid: 1000, gid: 1000 };
  const folded = (fh: number, returned: boolean) =>
    leases.event({
      kind: 'opened',
      ctx,
      ino: 5,
      fh,
      lease: id,
      latencyUs: 2,
      timeMs: 7,
      closed: true,
      returned,
      audited: false,
    });
  const openHandles = ledger.stats().openHandles;
  folded(fhs[0]!, true);
  t.is(audit.length, 1, 'its open is audited as any other');
  t.like(audit[0], { d: { name: 'db-password' }, timeMs: 7, latencyUs: 2 });
  t.is(handles.size, 1, "only JS's own handle is listed");
  t.is(ledger.stats().openHandles, openHandles, 'its number went back to the lease: booked, not open');
  // Closed after its lease was retired: the number is the ledger's to release.
  const owned = ledger.headroom(OWNER);
  folded(fhs[1]!, false);
  t.is(audit.length, 2);
  t.is(ledger.stats().openHandles, openHandles, 'open and closed: nothing more is open');
  t.is(ledger.headroom(OWNER), owned + 1, 'its booking is released');
  t.is(handles.size, 1);
});

test('a folded open and close of an inode nobody else holds drops its cached pages once the job ends', async (t) => {
  const invalidated: number[] = [];
  const handles = new OpenHandles((ino) => invalidated.push(ino));
  handles.openedAndClosed(5);
  handles.openedAndClosed(5);
  t.deepEqual(invalidated, [], 'not before the job ends');
  await Promise.resolve();
  t.deepEqual(invalidated, [5], 'once per inode');
  // With another handle open on it, a folded open and close leaves it be.
  handles.add(9, { ino: 6, name: 'api-token' });
  handles.openedAndClosed(6);
  await Promise.resolve();
  t.deepEqual(invalidated, [5]);
  handles.release(9);
  t.deepEqual(invalidated, [5, 6], 'its last close drops it');
});

test('a real limit still refuses: handles the addon opened are not taken back', (t) => {
  const { leased, ledger, leases, offer, plaintext } = setup(2);
  ledger.openSecret(OWNER, 100, KEY, plaintext);
  offer();
  t.deepEqual(
    leased.map((l) => l.fhs.length),
    [1],
  );
  // The fake addon reports the lease's one handle in use: nothing to give back.
  const err = t.throws(() => leases.admit(() => ledger.admitHandle(OWNER)));
  t.true(err instanceof FuseError && err.errno === Errno.ENFILE);
  t.is(ledger.headroom(OWNER), 0, 'both count against the limit');
  // JS has not heard of the addon's open yet (its event is still queued): listed once it has.
  t.is(ledger.stats().openHandles, 1);
});

test('a limit refusal first takes the closes the addon answered and JS has not heard of yet', (t) => {
  const { leased, retired, ledger, handles, leases, offer, plaintext, queued } = setup(2);
  ledger.openSecret(OWNER, 100, KEY, plaintext); // JS's own open, kept
  handles.add(100, { ino: 5, name: 'db-password' });
  offer();
  const { id, fhs } = leased.splice(0)[0]!;
  t.is(fhs.length, 1);
  const ctx = { pid: 42, uid: 1000, gid: 1000 };
  leases.event({
    kind: 'opened',
    ctx,
    ino: 5,
    fh: fhs[0]!,
    lease: id,
    latencyUs: 1,
    timeMs: 1,
    closed: false,
    returned: false,
    audited: false,
  });
  // The lease is retired with its one handle in use, then the addon answers that handle's close:
  // the event waits in the addon's queue.
  retired.push({ lease: id, inUse: 1, opened: 1, free: [] });
  leases.event({ kind: 'retired' });
  queued.push({ kind: 'released', ino: 5, fh: fhs[0]!, lease: id, returned: false });
  t.throws(() => ledger.admitHandle(OWNER), { message: /open_handles/ }, 'at the limit as far as JS knows');
  // As with the warm path off (the handle is closed), the open is admitted.
  t.notThrows(() => leases.admit(() => ledger.admitHandle(OWNER)));
  t.is(queued.length, 0);
  t.is(handles.size, 1);
});

test('an offer may book fewer handles than LEASE_SLOTS (an open ahead books one)', (t) => {
  const { leased, ledger, leases, plaintext } = setup(20);
  leases.offer({
    caller: {} as Caller,
    name: 'db-password',
    ino: 5,
    reason: 'labels match',
    reasonClass: 'allow',
    generation: 1,
    ctx: { pid: 43, uid: 1000, gid: 1000 },
    reuse: { startTime: '8', remainingMs: 50 },
    owner: OWNER,
    key: KEY,
    plaintext,
    slots: 1,
  });
  t.is(leased.length, 1);
  t.is(leased[0]!.fhs.length, 1);
  t.is(ledger.headroom(OWNER), 19);
});
