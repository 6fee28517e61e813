// Adoption, the first sight of a process in C (fast_path.h pal_fast_vouch): once JS attested and
// remembered a container caller and vouched for it with the cgroup text its resolver read, a new
// process with the very same cgroup text, uid and gid is answered by the addon with that caller's
// grants and leases: its LOOKUP and OPEN never reach JS, and its open's audit line names it. Any
// difference (another uid, another text, a new generation) leaves the new process to JS. Real
// processes through a real FUSE mount; all of them share this test's cgroup, so the text the fake
// resolver vouches with decides whether they are "one container".
import test from 'ava';

import { waitFor } from '../helpers/wait.js';
import { mountView, ownCgroup, readOnce, startReader, READER, type MountedView } from './open-ahead-fixture.js';

const SECRET = 'db-password';
const PLAINTEXT = 'hunter2-secret';

/**
 * A reader that JS attested (and the addon was told its cgroup text), kept alive. It reads twice:
 * the first read decrypts, and what the decrypt shows of the sealed facts starts a new generation,
 * which forgets every caller the addon had (view-state.ts).
 */
async function sponsor(v: MountedView) {
  const reader = await startReader(v, SECRET);
  t0(await reader.read());
  t0(await reader.read());
  return reader;
}

function t0(got: string): void {
  if (got !== PLAINTEXT) throw new Error(`the sponsor read ${got}`);
}

async function auditLine(v: MountedView, pid: number) {
  await waitFor(`the open of ${pid} to be audited`, () => v.h.audit.some((e) => e.pid === pid && e.op === 'open'), {
    intervalMs: 5,
  });
  return v.h.audit.find((e) => e.pid === pid && e.op === 'open')!;
}

for (const threads of [0, 2]) {
  test(`a new process with a vouched caller's cgroup text, uid and gid is answered in C (threads ${threads})`, async (t) => {
    const v = await mountView(threads, { containerCgroup: ownCgroup });
    try {
      const first = await sponsor(v);
      const before = v.fuse.fastPath.stats();
      t.true(before.vouched >= 1, JSON.stringify(before));

      const next = await readOnce(v, SECRET);
      t.is(next.got, PLAINTEXT);
      const after = v.fuse.fastPath.stats();
      t.is(after.adopted, before.adopted + 1, JSON.stringify(after));
      t.is(after.toJs.lookup, before.toJs.lookup, 'its LOOKUP never reached JS');
      t.is(after.toJs.open, before.toJs.open, 'nor its OPEN');
      t.false(v.resolved.has(next.pid), 'JS never attributed it');

      // Its audit line is the sponsor's decision, naming the process that opened.
      const sponsorLine = await auditLine(v, first.pid);
      const nextLine = await auditLine(v, next.pid);
      const { time: _t1, latency_us: _l1, pid: _p1, ...sponsorRest } = sponsorLine;
      const { time: _t2, latency_us: _l2, pid: _p2, ...nextRest } = nextLine;
      t.deepEqual(nextRest, sponsorRest);

      // Another uid is another caller: JS attributes it.
      const otherUid = await readOnce(v, SECRET, { uid: READER + 1 });
      t.is(otherUid.got, PLAINTEXT);
      t.true(v.resolved.has(otherUid.pid));
      t.is(v.fuse.fastPath.stats().adopted, after.adopted);

      // A new generation (a runtime event, a reload) leaves nothing to adopt from.
      v.view.forgetCallers();
      const afterBump = await readOnce(v, SECRET);
      t.is(afterBump.got, PLAINTEXT);
      t.true(v.resolved.has(afterBump.pid));
      t.is(v.fuse.fastPath.stats().adopted, after.adopted);
      await first.stop();
    } finally {
      await v.close();
    }
  });
}

test("a sponsor past its window adopts nothing and is dropped from the addon's list", async (t) => {
  // A short window (the fixture's 5 s would make this test wait that long): 1.5 s still covers the
  // sponsor's own LOOKUP and OPEN on a loaded machine.
  const reuseMs = 1_500;
  const v = await mountView(2, { containerCgroup: ownCgroup, callerReuseMs: reuseMs });
  try {
    const first = await sponsor(v);
    const vouchedAt = performance.now();
    const before = v.fuse.fastPath.stats();
    t.true(before.sponsors >= 1, JSON.stringify(before));
    // Nothing to wait on but the window's end itself.
    await waitFor('the sponsor window to end', () => performance.now() > vouchedAt + reuseMs, { intervalMs: 20 });
    const next = await readOnce(v, SECRET);
    t.is(next.got, PLAINTEXT);
    t.true(v.resolved.has(next.pid), 'JS attributed it');
    const after = v.fuse.fastPath.stats();
    t.is(after.adopted, before.adopted, JSON.stringify(after));
    // The expired sponsor is gone from the list (dropped when the new process's first sight met it,
    // or by JS's expiry sweep before); JS then attested the new process, which vouched for it in
    // turn (at most that one is listed).
    t.true(after.sponsors <= 1, JSON.stringify(after));
    await first.stop();
  } finally {
    await v.close();
  }
});

test('a process whose cgroup text differs by one byte is not adopted', async (t) => {
  // The resolver "read" the sponsor's text with a byte more than the kernel shows anyone.
  const v = await mountView(2, { containerCgroup: (pid) => `${ownCgroup(pid) ?? ''}x` });
  try {
    const first = await sponsor(v);
    const before = v.fuse.fastPath.stats();
    t.true(before.vouched >= 1);
    const next = await readOnce(v, SECRET);
    t.is(next.got, PLAINTEXT);
    const after = v.fuse.fastPath.stats();
    t.is(after.adopted, before.adopted);
    t.true(after.unadopted > before.unadopted, JSON.stringify(after));
    t.true(v.resolved.has(next.pid), 'JS attributed it');
    await first.stop();
  } finally {
    await v.close();
  }
});

test('without a vouched caller no process is adopted (a resolver that names no cgroup text)', async (t) => {
  const v = await mountView(2);
  try {
    const first = await sponsor(v);
    const next = await readOnce(v, SECRET);
    t.is(next.got, PLAINTEXT);
    const s = v.fuse.fastPath.stats();
    t.is(s.vouched, 0);
    t.is(s.adopted, 0);
    t.true(v.resolved.has(next.pid));
    await first.stop();
  } finally {
    await v.close();
  }
});

test("a name its sponsor never looked up is JS's to answer, also for an adopted process", async (t) => {
  const v = await mountView(2, { containerCgroup: ownCgroup });
  try {
    const first = await sponsor(v);
    // The sponsor never looked up api-token: the adopted process's lookup of it goes to JS,
    // which attributes it (as the same container: allowed, and decrypted on demand).
    const token = await readOnce(v, 'api-token');
    t.is(token.got, 'tok-0123456789');
    t.true(v.resolved.has(token.pid));
    t.is(v.fuse.fastPath.stats().adopted, 1, 'adopted for what the sponsor had, then JS for the rest');
    await first.stop();
  } finally {
    await v.close();
  }
});

test('a handle an adopted process holds across a new generation reads and closes as any other', async (t) => {
  const v = await mountView(2, { containerCgroup: ownCgroup });
  try {
    const first = await sponsor(v);
    const adopted = await startReader(v, SECRET);
    const before = v.fuse.fastPath.stats();
    t.is(await adopted.open(), PLAINTEXT);
    const opened = v.fuse.fastPath.stats();
    t.is(opened.adopted, before.adopted + 1, JSON.stringify(opened));
    t.is(opened.openHits, before.openHits + 1, 'opened from the sponsor’s lease');
    // Everything remembered goes (the sponsor's lease is retired while the adopted handle is open).
    v.view.forgetCallers();
    t.is(await adopted.close(), 'closed');
    await waitFor('every handle to be closed and counted', () => v.view.openHandles() === 0, { intervalMs: 5 });
    // Its next read is a new caller's for JS (nothing left to adopt from at the new generation).
    t.is(await adopted.read(), PLAINTEXT);
    t.true(v.resolved.has(adopted.pid));
    await waitFor('the read to be closed and counted', () => v.view.openHandles() === 0, { intervalMs: 5 });
    await adopted.stop();
    await first.stop();
  } finally {
    await v.close();
  }
});
