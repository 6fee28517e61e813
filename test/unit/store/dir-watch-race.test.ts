// The directory watcher must not lose a directory created inside the window between its own
// failed watch (ENOENT) and its parent's watch being set: no event comes for it anywhere, so a
// ciphertext written into it later was never seen (a flaky "appears later in a directory that did
// not exist yet" under load). The injected watch function wraps the real fs.watch and creates the
// child directory right before the parent's watch is set: the window, hit every time, no sleeps.
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, rmSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DirWatcher, type WatchFunction } from '../../../src/store/dir-watch.js';
import { waitFor } from '../../helpers/wait.js';

interface Fixture {
  readonly root: string;
  readonly sub: string;
  readonly deeper: string;
  readonly events: string[];
  readonly watcher: DirWatcher;
  /** Directory → how many watches were set on it; and how many of all are still open. */
  readonly watchesSet: Map<string, number>;
  readonly open: () => number;
}

/** A DirWatcher whose watch of `sub` first creates `sub/deeper` (if `sub` exists and `deeper` does not). */
function fixture(t: { teardown: (fn: () => void) => void }): Fixture {
  const root = mkdtempSync(path.join(tmpdir(), 'pal-dir-watch-'));
  const sub = path.join(root, 'sub');
  const deeper = path.join(sub, 'deeper');
  const events: string[] = [];
  const watchesSet = new Map<string, number>();
  const live = new Set<FSWatcher>();
  const inWindow: WatchFunction = (dir, listener) => {
    if (dir === sub && existsSync(sub) && !existsSync(deeper)) mkdirSync(deeper);
    const w = watch(dir, { persistent: true }, listener);
    watchesSet.set(dir, (watchesSet.get(dir) ?? 0) + 1);
    live.add(w);
    const close = w.close.bind(w);
    w.close = () => {
      live.delete(w);
      close();
    };
    return w;
  };
  const watcher = new DirWatcher({ onEvent: (f) => events.push(f), watch: inWindow });
  t.teardown(() => {
    watcher.close();
    rmSync(root, { recursive: true, force: true });
  });
  return { root, sub, deeper, events, watcher, watchesSet, open: () => live.size };
}

async function fileEventSeen(f: Fixture): Promise<void> {
  const file = path.join(f.deeper, 'later.pgp');
  writeFileSync(file, 'ct');
  await waitFor(`an event for ${file}`, () => f.events.includes(file), { timeoutMs: 10_000, intervalMs: 10 });
}

test('a directory created while its parent is being watched after an event is still watched', async (t) => {
  const f = fixture(t);
  f.watcher.add([f.deeper]); // sub and deeper missing: watched through root
  t.is(f.watcher.watchedCount(), 1);
  mkdirSync(f.sub); // root's event retries sub (its watch creates deeper first) and deeper
  await waitFor('deeper reported', () => f.events.includes(f.deeper), { timeoutMs: 10_000, intervalMs: 10 });
  await fileEventSeen(f);
  t.is(f.watcher.watchedCount(), 3);
  t.deepEqual([...f.watchesSet.values()], [1, 1, 1], 'one watch per directory');
  f.watcher.close();
  t.is(f.open(), 0, 'every watch closed');
});

test('a directory created while its parent is being watched at add() is still watched', async (t) => {
  const f = fixture(t);
  mkdirSync(f.sub);
  f.watcher.add([f.deeper]); // deeper missing; the watch of sub creates it, then sub is watched
  t.true(f.events.includes(f.deeper), 'deeper reported: what is already in it must be read');
  await fileEventSeen(f);
  t.is(f.watcher.watchedCount(), 2);
  t.deepEqual([...f.watchesSet.values()], [1, 1], 'one watch per directory');
  f.watcher.close();
  t.is(f.open(), 0, 'every watch closed');
});

test('directories that appear one by one are each watched once, and a later one is reported', async (t) => {
  const f = fixture(t);
  const deepest = path.join(f.deeper, 'deepest');
  f.watcher.add([deepest]);
  mkdirSync(f.sub); // sub's watch creates deeper; deepest is still missing, watched through deeper
  await waitFor('deeper watched', () => f.watcher.watchedCount() === 3, { timeoutMs: 10_000, intervalMs: 10 });
  mkdirSync(deepest);
  await waitFor('deepest reported', () => f.events.includes(deepest), { timeoutMs: 10_000, intervalMs: 10 });
  t.is(f.watcher.watchedCount(), 4);
  t.deepEqual([...f.watchesSet.values()], [1, 1, 1, 1], 'one watch per directory');
  f.watcher.close();
  t.is(f.open(), 0, 'every watch closed');
});
