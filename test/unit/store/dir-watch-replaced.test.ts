// A watch follows its directory's inode, not its path. A watched directory removed and made again,
// or replaced by a rename (a deploy that ships a new directory and moves it into place), must be
// watched again at its path: before, the watch stayed on the dead or moved
// directory and a ciphertext written into the new one later made no event at all. Real
// directories and fs.watch; each test waits for the event it needs (no sleeps).
import test from 'ava';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DirWatcher } from '../../../src/store/dir-watch.js';
import { waitFor } from '../../helpers/wait.js';

interface Fixture {
  readonly root: string;
  readonly dir: string;
  readonly events: string[];
  readonly watcher: DirWatcher;
}

/** A watcher of root/data only (not of root: no parent's event helps). */
function fixture(t: { teardown: (fn: () => void) => void }): Fixture {
  const root = mkdtempSync(path.join(tmpdir(), 'pal-dir-replaced-'));
  const dir = path.join(root, 'data');
  mkdirSync(dir);
  const events: string[] = [];
  const watcher = new DirWatcher({ onEvent: (f) => events.push(f) });
  t.teardown(() => {
    watcher.close();
    rmSync(root, { recursive: true, force: true });
  });
  watcher.add([dir]);
  return { root, dir, events, watcher };
}

const seen = (f: Fixture, file: string): Promise<unknown> =>
  waitFor(`an event for ${file}`, () => f.events.includes(file), { timeoutMs: 10_000, intervalMs: 10 });

test('a watched directory removed and made again is watched again', async (t) => {
  const f = fixture(t);
  rmSync(f.dir, { recursive: true });
  mkdirSync(f.dir);
  // The watcher reports the directory once it watches the new one (what it held made no event).
  await seen(f, f.dir);
  const later = path.join(f.dir, 'later.pgp');
  writeFileSync(later, 'ct');
  await seen(f, later);
  t.is(f.watcher.watchedCount(), 1, 'the dead watch was closed, not kept beside the new one');
});

test('a watched directory replaced by a rename is watched at its path, not where the old one went', async (t) => {
  const f = fixture(t);
  const incoming = path.join(f.root, 'data.new');
  const old = path.join(f.root, 'data.old');
  mkdirSync(incoming);
  writeFileSync(path.join(incoming, 's.pgp'), 'v2');
  renameSync(f.dir, old);
  renameSync(incoming, f.dir);
  await seen(f, f.dir);
  // Written first into the old directory: an event for it would come first, and be misnamed.
  writeFileSync(path.join(old, 'stale.pgp'), 'old');
  const later = path.join(f.dir, 'later.pgp');
  writeFileSync(later, 'v3');
  await seen(f, later);
  t.false(f.events.includes(path.join(f.dir, 'stale.pgp')), 'no event of the moved-away directory under the path');
  t.is(f.watcher.watchedCount(), 1);
});

test('a directory whose entry is named like it keeps one working watch', async (t) => {
  const f = fixture(t);
  // A file named like its directory: its events name the directory's own name (a watch set afresh).
  const namesake = path.join(f.dir, 'data');
  writeFileSync(namesake, 'x');
  rmSync(namesake);
  await seen(f, namesake);
  const later = path.join(f.dir, 'later.pgp');
  writeFileSync(later, 'ct');
  await seen(f, later);
  t.is(f.watcher.watchedCount(), 1);
});
