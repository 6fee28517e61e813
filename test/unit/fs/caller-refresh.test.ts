import test from 'ava';
import { CallerMemo, CALLER_REUSE_MS } from '../../../src/fs/caller-memo.js';
import type { RefreshAddon } from '../../../src/fs/caller-refresh.js';
import type { CallerRef, Identity } from '../../../src/identity/types.js';
import type { Caller } from '../../../src/policy/index.js';
import type { FastPath, FastPathCaller } from '../../../src/native/index.js';
import { WarmPath } from '../../../src/fs/warm-path.js';

const W = CALLER_REUSE_MS;

/** Lets the fake attestations and the refresher's promise chains run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * A fake clock and timers, a fake /proc (pid → start time), a counting attester whose answer the
 * test changes (container, labels, failure), and a fake addon (its per-caller "used" flag and the
 * extensions it was asked for).
 */
function fixture(opts: { addon?: boolean; concurrency?: number } = {}) {
  const clock = { now: 1_000 };
  const timers: { at: number; run: () => void; off: boolean }[] = [];
  const starts = new Map<number, string>();
  const labels = new Map<number, string[]>();
  const containers = new Map<number, string>();
  const failing = new Set<number>();
  const attested: { pid: number; at: number }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const addonUsed = new Set<number>();
  const extended: { generation: number; who: FastPathCaller }[] = [];
  const addon: RefreshAddon & { generation: number } = {
    generation: 1,
    used: (_g, who) => addonUsed.delete(who.pid),
    extend: (generation, who) => {
      extended.push({ generation, who });
      return true;
    },
  };
  const memo = new CallerMemo({
    attest: async (ctx: CallerRef): Promise<Caller> => {
      attested.push({ pid: ctx.pid, at: clock.now });
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await settle(); // an attestation takes a turn of the event loop, as /proc reads do
      inFlight--;
      const identity: Identity = {
        kind: 'container',
        pid: ctx.pid,
        tgid: ctx.pid,
        uid: ctx.uid,
        gid: ctx.gid,
        startTime: starts.get(ctx.pid)!,
        containerId: containers.get(ctx.pid) ?? 'c1',
        imageId: 'sha256:aa',
      };
      const trust = {
        labels: labels.get(ctx.pid) ?? ['demo'],
        state: 'unverified' as const,
        provider: 'none',
        reason: 'r',
      };
      return failing.has(ctx.pid) ? { ctx, identity, trust, failure: 'trust failed: x' } : { ctx, identity, trust };
    },
    startTime: (pid) => starts.get(pid),
    clock: () => clock.now,
    refresh: {
      schedule: (run, ms) => {
        const t = { at: clock.now + ms, run, off: false };
        timers.push(t);
        return () => void (t.off = true);
      },
      ...(opts.addon === false ? {} : { addon }),
      ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
    },
  });
  /** Moves the clock to `to`, running each timer due on the way at its time. */
  async function advance(to: number): Promise<void> {
    for (;;) {
      const due = timers.filter((t) => !t.off && t.at <= to).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      due.off = true;
      clock.now = Math.max(clock.now, due.at);
      due.run();
      await idle();
    }
    clock.now = to;
    await idle();
  }
  /** Until no refresh is in flight. */
  async function idle(): Promise<void> {
    do await settle();
    while (memo.refresher!.pending > 0);
  }
  const ctx = (pid: number): CallerRef => ({ pid, uid: 1000, gid: 1000 });
  const attestsOf = (pid: number) => attested.filter((a) => a.pid === pid).length;
  return {
    memo,
    clock,
    starts,
    labels,
    containers,
    failing,
    attested,
    attestsOf,
    addon,
    addonUsed,
    extended,
    advance,
    ctx,
    maxInFlight: () => maxInFlight,
  };
}

test('a caller JS answered during its window is attested again before it ends: its next request does not wait', async (t) => {
  const f = fixture();
  f.starts.set(7, '100');
  const first = await f.memo.evaluate(f.ctx(7));
  await f.advance(1_010);
  t.is(await f.memo.evaluate(f.ctx(7)), first); // a hit: the caller is in use
  await f.advance(1_000 + W - 1);
  t.is(f.attestsOf(7), 2, 'attested again in the background, before the window ended');
  // The addon was told to extend that very process, at the generation read before the attestation.
  t.is(f.extended.length, 1);
  t.like(f.extended[0], { generation: 1, who: { pid: 7, uid: 1000, gid: 1000, startTime: '100' } });
  t.true(f.extended[0]!.who.remainingMs > 1 && f.extended[0]!.who.remainingMs <= W);
  // After the first window: answered from the memo, no attestation on the request path.
  await f.advance(1_000 + W + 5);
  const later = await f.memo.evaluate(f.ctx(7));
  t.is(f.attestsOf(7), 2);
  t.deepEqual(later.identity, first.identity);
  t.truthy(f.memo.reuseOf(later));
});

test('a caller only the addon answered is refreshed too (its used flag), one JS never heard from again lapses', async (t) => {
  const f = fixture();
  f.starts.set(7, '100');
  f.starts.set(8, '200');
  await f.memo.evaluate(f.ctx(7));
  await f.memo.evaluate(f.ctx(8));
  f.addonUsed.add(7); // 7 read through the addon; 8 did nothing more
  await f.advance(1_000 + W - 1);
  t.is(f.attestsOf(7), 2);
  t.is(f.attestsOf(8), 1, 'an idle caller is not attested again');
  t.deepEqual(
    f.extended.map((e) => e.who.pid),
    [7],
  );
  await f.advance(1_000 + W + 1);
  await f.memo.evaluate(f.ctx(8));
  t.is(f.attestsOf(8), 2, 'its window lapsed as before: attested on the request path');
});

test('without JS hits nor an addon, nothing is refreshed', async (t) => {
  const f = fixture({ addon: false });
  f.starts.set(7, '100');
  await f.memo.evaluate(f.ctx(7));
  await f.advance(1_000 + W + 1);
  t.is(f.attestsOf(7), 1);
});

for (const [what, change] of [
  ['moved to another container', (f: ReturnType<typeof fixture>) => f.containers.set(7, 'c2')],
  ['its labels changed', (f: ReturnType<typeof fixture>) => f.labels.set(7, ['demo', 'billing'])],
  ['its attestation failed', (f: ReturnType<typeof fixture>) => f.failing.add(7)],
] as const) {
  test(`a caller ${what} is not extended: forgotten at once, its next request attested afresh`, async (t) => {
    const f = fixture();
    f.starts.set(7, '100');
    await f.memo.evaluate(f.ctx(7));
    f.addonUsed.add(7);
    change(f);
    await f.advance(1_000 + W - 5);
    t.is(f.attestsOf(7), 2, 'attested again');
    t.deepEqual(f.extended, [], 'the addon is not told to extend it');
    // Still inside the old window, yet not reused: the next request is attested on its path.
    const now = await f.memo.evaluate(f.ctx(7));
    t.is(f.attestsOf(7), 3);
    t.is(now.identity.containerId, f.containers.get(7) ?? 'c1');
  });
}

test('a process gone (its pid holds another start time) is not attested again, and forgotten', async (t) => {
  const f = fixture();
  f.starts.set(7, '100');
  await f.memo.evaluate(f.ctx(7));
  f.addonUsed.add(7);
  f.starts.set(7, '101');
  await f.advance(1_000 + W - 5);
  t.is(f.attestsOf(7), 1);
  t.deepEqual(f.extended, []);
  f.starts.set(7, '100');
  await f.memo.evaluate(f.ctx(7));
  t.is(f.attestsOf(7), 2, 'forgotten: attested on the request path');
});

test('forget() while a refresh is in flight: its result is discarded', async (t) => {
  const f = fixture();
  f.starts.set(7, '100');
  await f.memo.evaluate(f.ctx(7));
  f.addonUsed.add(7);
  const due = 1_000 + W - W / 4;
  await f.advance(due - 1);
  f.clock.now = due;
  f.memo.refresher!.sweep(); // starts the attestation
  t.is(f.memo.refresher!.pending, 1);
  f.memo.forget();
  await f.advance(due + 2);
  t.is(f.memo.refresher!.pending, 0);
  t.deepEqual(f.extended, []);
  await f.memo.evaluate(f.ctx(7));
  t.is(f.attestsOf(7), 3, 'the forgotten caller was attested afresh');
});

test('a steady reader: every answer comes from an attestation begun less than one window before, once per window at most', async (t) => {
  const f = fixture();
  f.starts.set(7, '100');
  const served: number[] = [];
  for (let now = 1_000; now < 1_000 + 10 * W; now += 3) {
    await f.advance(now);
    const before = f.attested.length;
    await f.memo.evaluate(f.ctx(7));
    if (f.attested.length === before) served.push(now);
  }
  t.is(f.attested.filter((a) => a.at > 1_000).length > 0, true);
  t.is(
    f.attested.length - 1,
    f.extended.length,
    'each refresh after the first attestation extended the window (none on the request path)',
  );
  t.true(served.length > 100);
  for (const at of served) {
    const last = f.attested.filter((a) => a.at <= at).at(-1)!;
    t.true(at - last.at < W, `answered at ${at} from an attestation at ${last.at}`);
  }
  // Never more than one refresh per window: at least 3/4 of a window between attestations.
  const gaps = f.attested.slice(1).map((a, i) => a.at - f.attested[i]!.at);
  t.true(
    gaps.every((g) => g >= (3 * W) / 4 - 1),
    JSON.stringify(gaps),
  );
});

test('refreshes run a few at a time, and each due caller still gets its one', async (t) => {
  const f = fixture({ concurrency: 2 });
  for (let pid = 10; pid < 20; pid++) {
    f.starts.set(pid, String(pid * 10));
    await f.memo.evaluate(f.ctx(pid));
    f.addonUsed.add(pid);
  }
  await f.advance(1_000 + W - 1);
  t.true(f.maxInFlight() <= 2, String(f.maxInFlight()));
  t.is(f.extended.length, 10);
  t.is(f.attested.length, 20);
});

test('the warm path extends a caller in the addon only at the generation the attestation began at', (t) => {
  const asked: { op: string; generation: number }[] = [];
  const fake = {
    enable: () => undefined,
    setGeneration: () => undefined,
    takeUsed: (generation: number) => (asked.push({ op: 'used', generation }), true),
    extend: (generation: number) => (asked.push({ op: 'extend', generation }), true),
  } as unknown as FastPath;
  const warm = new WarmPath(true);
  const who = { pid: 7, uid: 1, gid: 1, startTime: '100', remainingMs: 40 };
  t.false(warm.extend(warm.generation, who), 'not mounted: nothing to extend');
  warm.attach(fake);
  const before = warm.generation;
  t.true(warm.used(before, who));
  t.true(warm.extend(before, who));
  warm.bump(); // e.g. a manifest change while the attestation ran
  t.false(warm.used(before, who));
  t.false(warm.extend(before, who));
  t.false(warm.extend(warm.generation, { ...who, remainingMs: 0 }));
  t.deepEqual(asked, [
    { op: 'used', generation: before },
    { op: 'extend', generation: before },
  ]);
});
