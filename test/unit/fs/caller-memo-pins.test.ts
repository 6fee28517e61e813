// The caller memo over the real resolver (a fake /proc of host processes, stat or pidfd pins): a
// process's first request reads its /proc/<pid>/stat once (the resolver's pin) — the memo never
// reads it by number — and what the memo finds or renews is only ever a process the resolver
// still has pinned. Opens of the stat file are counted through node:fs itself.

import test from 'ava';
import fs, { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CallerMemo, CALLER_REUSE_MS } from '../../../src/fs/caller-memo.js';
import { createResolver } from '../../../src/identity/resolver.js';
import { pidfdPinGuard, type PinGuard } from '../../../src/identity/pin-guards.js';
import type { ContainerRuntime } from '../../../src/identity/runtime.js';
import type { CallerRef, PidfdOps } from '../../../src/identity/types.js';
import { attestCaller, type Caller } from '../../../src/policy/index.js';

/** Paths opened with openSync in this worker (procfs reads by number and stat pins open through it). */
const opened: string[] = [];
const realOpenSync = fs.openSync;
fs.openSync = (path: fs.PathLike, ...rest: unknown[]) => {
  opened.push(String(path));
  return (realOpenSync as (...a: unknown[]) => number)(path, ...rest);
};
syncBuiltinESMExports();

const NS = { pid: 'pid:[4026531836]', mnt: 'mnt:[4026531840]' };

/** A fake /proc of host processes (pald's own namespaces, cgroup "/"). */
class HostProc {
  readonly root = mkdtempSync(join(tmpdir(), 'pal-memo-pins-'));
  constructor() {
    mkdirSync(join(this.root, 'self', 'ns'), { recursive: true });
    symlinkSync(NS.pid, join(this.root, 'self', 'ns', 'pid'));
    symlinkSync(NS.mnt, join(this.root, 'self', 'ns', 'mnt'));
  }
  /** Writes the process now holding `pid` (rewriting stat in place: a stat pin sees the new one). */
  process(pid: number, start: string): void {
    const dir = join(this.root, String(pid));
    if (!fs.existsSync(dir)) {
      mkdirSync(join(dir, 'ns'), { recursive: true });
      symlinkSync(NS.pid, join(dir, 'ns', 'pid'));
      symlinkSync(NS.mnt, join(dir, 'ns', 'mnt'));
    }
    const fields = ['S', ...Array.from({ length: 18 }, () => '0'), start, '0', '0'];
    writeFileSync(join(dir, 'stat'), `${pid} (app) ${fields.join(' ')}\n`);
    writeFileSync(join(dir, 'cgroup'), '0::/\n');
    writeFileSync(
      join(dir, 'status'),
      `Name:\tapp\nTgid:\t${pid}\nPid:\t${pid}\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\n`,
    );
  }
  /** How often `pid`'s stat was opened since the last call. */
  statOpens(pid: number): number {
    const path = `${this.root}/${pid}/stat`;
    const n = opened.filter((p) => p === path).length;
    for (let i = opened.length - 1; i >= 0; i--) if (opened[i] === path) opened.splice(i, 1);
    return n;
  }
  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

const noRuntime: ContainerRuntime = {
  endpoint: 'unix:///fake/docker.sock',
  inspectContainer: () => Promise.reject(new Error('no containers here')),
  inspectImage: () => Promise.reject(new Error('no images here')),
  watch: (handlers) => (handlers.onConnected(), () => {}),
};

/** Fake pidfds: each pins its pid until `reap`. */
function fakePidfds() {
  const open = new Map<number, number>();
  const reaped = new Set<number>();
  let next = 900;
  const ops: PidfdOps = {
    open: (tid) => (open.set(next, tid), next++),
    alive: (fd) => open.has(fd) && !reaped.has(fd),
    close: (fd) => void open.delete(fd),
  };
  const reap = (pid: number): void => {
    for (const [fd, p] of open) if (p === pid) reaped.add(fd);
  };
  return { ops, reap };
}

function world(opts: { pins?: (root: string) => PinGuard; maxPins?: number } = {}) {
  const proc = new HostProc();
  const pinGuard = opts.pins?.(proc.root);
  const resolver = createResolver({
    runtime: noRuntime,
    procRoot: proc.root,
    ...(pinGuard ? { pinGuard } : {}),
    ...(opts.maxPins ? { maxCachedProcesses: opts.maxPins } : {}),
  });
  const clock = { now: 1_000 };
  const attested: number[] = [];
  const trust = { verifiedLabels: () => Promise.reject(new Error('host callers need no trust')) };
  const memo = new CallerMemo({
    attest: (ctx: CallerRef): Promise<Caller> => (attested.push(ctx.pid), attestCaller(ctx, resolver, trust)),
    startTime: (pid) => resolver.pinnedStartTime(pid),
    clock: () => clock.now,
    refresh: { schedule: () => () => {} }, // swept by hand
  });
  return {
    proc,
    resolver,
    memo,
    clock,
    attested,
    cleanup: () => {
      void resolver.close();
      proc.cleanup();
    },
  };
}

const ctx = (pid: number): CallerRef => ({ pid, uid: 1000, gid: 1000 });
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

for (const [kind, pins] of [
  ['stat pins', undefined],
  ['pidfd pins', (root: string) => pidfdPinGuard(root, fakePidfds().ops)],
] as const) {
  test(`${kind}: a process's first request opens its stat once (the pin), the next one not at all`, async (t) => {
    const w = world(pins ? { pins } : {});
    t.teardown(w.cleanup);
    w.proc.process(40, '4000');
    const first = await w.memo.evaluate(ctx(40));
    t.like(first.identity, { kind: 'host', startTime: '4000' });
    t.is(first.failure, undefined);
    t.is(w.proc.statOpens(40), 1, 'read once, by the resolver pinning it; not by number for the memo');
    t.is(await w.memo.evaluate(ctx(40)), first, 'remembered under the start time read while pinned');
    t.is(w.proc.statOpens(40), 0);
    t.deepEqual(w.attested, [40]);
  });
}

test('a pid reused inside the window: the pin stops holding, the new process is attested afresh (one stat open)', async (t) => {
  const pidfds = fakePidfds();
  const w = world({ pins: (root) => pidfdPinGuard(root, pidfds.ops) });
  t.teardown(w.cleanup);
  w.proc.process(41, '4100');
  const old = await w.memo.evaluate(ctx(41));
  w.proc.statOpens(41);
  // The process exits and its pid goes to another one, well inside the reuse window.
  pidfds.reap(41);
  w.proc.process(41, '4199');
  w.clock.now += 1;
  const fresh = await w.memo.evaluate(ctx(41));
  t.not(fresh, old, "never the old process's caller");
  t.like(fresh.identity, { kind: 'host', startTime: '4199' });
  t.is(w.proc.statOpens(41), 1, 'pinned afresh; no read by number before');
  t.is(await w.memo.evaluate(ctx(41)), fresh, 'and the new process is remembered as itself');
  t.deepEqual(w.attested, [41, 41]);
});

test('a caller whose pin was evicted is not refreshed: its window lapses (no read by number)', async (t) => {
  const w = world({ maxPins: 1 });
  t.teardown(w.cleanup);
  w.proc.process(42, '4200');
  w.proc.process(43, '4300');
  const a = await w.memo.evaluate(ctx(42));
  t.is(await w.memo.evaluate(ctx(42)), a, 'in use: due for a refresh');
  await w.memo.evaluate(ctx(43)); // the resolver keeps one pin: 43's evicts 42's
  w.proc.statOpens(42);
  w.clock.now += CALLER_REUSE_MS - 1; // inside the refresh lead
  w.memo.refresher!.sweep();
  await settle();
  t.deepEqual(w.attested, [42, 43], 'not attested again');
  t.is(w.proc.statOpens(42), 0, 'nor read by number');
  t.is(w.memo.reuseOf(a), undefined, 'forgotten: its next request is attested afresh');
  t.not(await w.memo.evaluate(ctx(42)), a);
  t.deepEqual(w.attested, [42, 43, 42]);
});
