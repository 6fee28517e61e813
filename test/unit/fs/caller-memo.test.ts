import test from 'ava';
import { CallerMemo, CALLER_REUSE_MS } from '../../../src/fs/caller-memo.js';
import type { CallerRef } from '../../../src/identity/types.js';

/**
 * A fake /proc (pid → start time), a fake clock, and a counting attester that pins what it
 * attests as the resolver does: the memo's start time is the pinned process's only, while the
 * pin holds (the same start time in /proc).
 */
function fixture() {
  const starts = new Map<number, string>([[7, '100']]);
  const pinned = new Map<number, string>();
  const asked: number[] = [];
  const clock = { now: 1_000 };
  const attested: CallerRef[] = [];
  let fail = false;
  let seenStart: string | undefined;
  let duringAttest: (() => void) | undefined;
  const memo = new CallerMemo({
    attest: async (ctx) => {
      attested.push(ctx);
      duringAttest?.();
      duringAttest = undefined;
      const startTime = seenStart ?? starts.get(ctx.pid);
      if (startTime !== undefined) pinned.set(ctx.pid, startTime);
      const identity = {
        kind: 'host' as const,
        pid: ctx.pid,
        tgid: ctx.pid,
        uid: ctx.uid,
        gid: ctx.gid,
        ...(startTime ? { startTime } : {}),
      };
      return fail ? { ctx, identity, failure: 'identity unknown: x' } : { ctx, identity };
    },
    startTime: (pid) => {
      asked.push(pid);
      const pin = pinned.get(pid);
      if (pin !== undefined && pin === starts.get(pid)) return pin;
      pinned.delete(pid); // the pinned process is gone
      return undefined;
    },
    clock: () => clock.now,
  });
  return {
    memo,
    starts,
    pinned,
    asked,
    clock,
    attested,
    failNext: (on: boolean) => (fail = on),
    resolverSees: (start: string | undefined) => (seenStart = start),
    whileAttesting: (run: () => void) => (duringAttest = run),
  };
}

const ctx = (pid: number, uid = 1000, gid = 1000): CallerRef => ({ pid, uid, gid });

test('the same process inside the window is attested once', async (t) => {
  const f = fixture();
  const a = await f.memo.evaluate(ctx(7));
  f.clock.now += CALLER_REUSE_MS - 1;
  t.is(await f.memo.evaluate(ctx(7)), a);
  t.is(f.attested.length, 1);
});

test('same pid, different start time inside the window: a new process, attested afresh', async (t) => {
  const f = fixture();
  await f.memo.evaluate(ctx(7));
  f.starts.set(7, '101'); // the process exited and its pid was handed to another one
  f.clock.now += 1;
  const again = await f.memo.evaluate(ctx(7));
  t.is(f.attested.length, 2);
  t.is(again.identity.startTime, '101');
});

test('the window is measured on the injected clock', async (t) => {
  const f = fixture();
  await f.memo.evaluate(ctx(7));
  f.clock.now += CALLER_REUSE_MS;
  await f.memo.evaluate(ctx(7));
  t.is(f.attested.length, 2);
});

test('other uid/gid, failures, unreadable start times and forget() are never reused', async (t) => {
  const f = fixture();
  await f.memo.evaluate(ctx(7));
  await f.memo.evaluate(ctx(7, 0, 0));
  t.is(f.attested.length, 2, 'a setuid process is a new caller');
  await f.memo.evaluate(ctx(7, 1000, 0));
  t.is(f.attested.length, 3);

  f.failNext(true);
  await f.memo.evaluate(ctx(8));
  await f.memo.evaluate(ctx(8));
  t.is(f.attested.length, 5, 'pid 8 has no readable start time, and failures are not kept');
  f.starts.set(9, '5');
  await f.memo.evaluate(ctx(9));
  await f.memo.evaluate(ctx(9));
  t.is(f.attested.length, 7, 'failures are evaluated afresh');
  f.failNext(false);

  f.memo.forget();
  await f.memo.evaluate(ctx(7));
  t.is(f.attested.length, 8);
});

test('a first sight is remembered under the start time the resolver read while pinning it', async (t) => {
  const f = fixture();
  const a = await f.memo.evaluate(ctx(7));
  t.deepEqual(f.asked, [7], 'asked once, and not pinned then: no start time, straight to attestation');
  t.is(await f.memo.evaluate(ctx(7)), a, 'the next request finds it through the pin');
  t.is(f.attested.length, 1);
  t.deepEqual(f.memo.reuseOf(a), { startTime: '100', remainingMs: CALLER_REUSE_MS });
});

test('not kept when the pinned process changed hands while it was attested again', async (t) => {
  const f = fixture();
  await f.memo.evaluate(ctx(7));
  f.clock.now += CALLER_REUSE_MS; // the window is over: attested again, from its pin
  f.whileAttesting(() => f.starts.set(7, '101')); // the pid changed hands meanwhile
  const during = await f.memo.evaluate(ctx(7));
  t.is(during.identity.startTime, '101');
  t.is(f.memo.reuseOf(during), undefined, 'not the process whose pin was checked: not remembered');
  await f.memo.evaluate(ctx(7));
  t.is(f.attested.length, 3);
});
