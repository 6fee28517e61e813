// Watches a set of directories for changes to the files in them: one inotify watch per directory
// (fs.watch on the directory), whatever the number of files. A watch per file (what chokidar sets
// up for every file it sees, with an fs.Stats and four Dates each) cost pald ~15 MiB of heap and
// 10,000 inotify watches with a 10,000-secret manifest, for nothing: the directory's own events
// already name the file that was created, written, renamed over or removed.
// A directory that does not exist (yet) is watched through its nearest existing ancestor: any
// event there makes the watcher try again and reports a change, so a ciphertext that appears
// later in a new subdirectory is still picked up.
// The race to close: a directory created after its own watch failed (ENOENT) but before its
// parent's watch was set makes no event anywhere. So missing directories are tried shallowest
// first (a parent is watched before its children are tried, so a child created after its try is
// an event of the parent's watch), and again after every new watch until no new watch is set.
// A watch follows its inode, not its path: a watched directory removed and made again, or replaced
// by a rename (a deploy that ships a new directory and moves it into place), left a watch on a
// dead or moved directory and none on the new one. When the directory itself is renamed or removed
// (its own event, or its parent's naming it), its path is watched afresh.
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

/** Sets a watch on one directory (fs.watch; tests inject a wrapper of it). Throws ENOENT if missing. */
export type WatchFunction = (dir: string, listener: (event: string, name: string | Buffer | null) => void) => FSWatcher;

const watchDirectory: WatchFunction = (dir, listener) => watch(dir, { persistent: true }, listener);

export interface DirWatchOptions {
  /** Called with the absolute path of a file (or directory) an event was about. */
  readonly onEvent: (file: string) => void;
  readonly onError?: (err: Error) => void;
  readonly watch?: WatchFunction;
}

export class DirWatcher {
  /** Directory → its own watcher (existing directories only). */
  private readonly watchers = new Map<string, FSWatcher>();
  /** Directories asked for (or their missing ancestors) that did not exist when last tried. */
  private readonly missing = new Set<string>();
  private closed = false;

  constructor(private readonly opts: DirWatchOptions) {}

  /** Starts watching every directory of `dirs` not yet watched (idempotent). */
  add(dirs: Iterable<string>): void {
    const set = this.watchers.size;
    for (const dir of dirs) this.watchDir(path.resolve(dir));
    // A missing directory's parent may have been watched just now, after the directory appeared.
    if (this.watchers.size !== set && this.missing.size > 0) this.retryMissing();
  }

  /** How many directories have a watch of their own (tests, diagnostics). */
  watchedCount(): number {
    return this.watchers.size;
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    this.missing.clear();
  }

  /** Watches `dir`, or records it missing and watches its nearest existing ancestor instead. */
  private watchDir(dir: string): void {
    if (this.closed || this.watchers.has(dir)) return;
    try {
      // A directory replaced right after this watch is set makes the watch's own event: revalidate.
      const watcher = (this.opts.watch ?? watchDirectory)(dir, (event, name) => this.onWatchEvent(dir, event, name));
      watcher.on('error', (err) => this.opts.onError?.(err));
      this.watchers.set(dir, watcher);
      this.missing.delete(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.opts.onError?.(err as Error);
        return;
      }
      this.missing.add(dir);
      const parent = path.dirname(dir);
      if (parent !== dir) this.watchDir(parent);
    }
  }

  private onWatchEvent(dir: string, event: string, name: string | Buffer | null): void {
    const entry = name === null ? undefined : name.toString();
    if (event === 'rename' && entry !== undefined) {
      // The directory itself (inotify names it by its own name), or a watched child of it, moved or went.
      if (entry === path.basename(dir)) this.revalidate(dir);
      const child = path.join(dir, entry);
      if (this.watchers.has(child)) this.revalidate(child);
    }
    this.opts.onEvent(entry === undefined ? dir : path.join(dir, entry));
    if (this.missing.size > 0) this.retryMissing();
  }

  /**
   * The directory at a watched path was renamed or removed (or an entry named like it was): watch
   * the path afresh. Not by comparing inode numbers: a directory made again at once often gets the
   * number of the one just removed. A needless new watch of the same directory costs one reload.
   */
  private revalidate(dir: string): void {
    const current = this.watchers.get(dir);
    if (this.closed || current === undefined) return;
    current.close();
    this.watchers.delete(dir);
    this.watchDir(dir); // the directory there now, or missing (then watched through an ancestor)
    if (this.missing.size > 0) this.retryMissing();
    // What the directory there now holds made its events before it was watched.
    if (this.watchers.has(dir)) this.opts.onEvent(dir);
  }

  /**
   * Something changed in a watched directory (or a watch was just set): a missing one may exist
   * now. Shallowest first, and again while a pass sets a new watch; each directory that appeared
   * is reported, since what is already in it made its events before its watch was there.
   */
  private retryMissing(): void {
    const before = [...this.missing];
    let watched = -1;
    while (!this.closed && this.missing.size > 0 && watched !== this.watchers.size) {
      watched = this.watchers.size;
      const byDepth = [...this.missing].sort((a, b) => depth(a) - depth(b));
      for (const dir of byDepth) if (this.missing.has(dir)) this.watchDir(dir);
    }
    for (const dir of before) if (this.watchers.has(dir)) this.opts.onEvent(dir);
  }
}

function depth(dir: string): number {
  return dir.split(path.sep).length;
}
