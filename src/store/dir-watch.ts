// Watches a set of directories for changes to the files in them: one inotify watch per directory
// (fs.watch on the directory), whatever the number of files. A watch per file (what chokidar sets
// up for every file it sees, with an fs.Stats and four Dates each) cost pald ~15 MiB of heap and
// 10,000 inotify watches with a 10,000-secret manifest, for nothing: the directory's own events
// already name the file that was created, written, renamed over or removed.
// A directory that does not exist (yet) is watched through its nearest existing ancestor: any
// event there makes the watcher try again and reports a change, so a ciphertext that appears
// later in a new subdirectory is still picked up.
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

export interface DirWatchOptions {
  /** Called with the absolute path of a file (or directory) an event was about. */
  readonly onEvent: (file: string) => void;
  readonly onError?: (err: Error) => void;
}

export class DirWatcher {
  /** Watched directory → its watcher; a missing directory maps to its ancestor's watcher. */
  private readonly watchers = new Map<string, FSWatcher>();
  /** Directories asked for that did not exist when last tried. */
  private readonly missing = new Set<string>();
  private closed = false;

  constructor(private readonly opts: DirWatchOptions) {}

  /** Starts watching every directory of `dirs` not yet watched (idempotent). */
  add(dirs: Iterable<string>): void {
    for (const dir of dirs) this.watchDir(path.resolve(dir));
  }

  /** How many directories have a watch of their own (tests, diagnostics). */
  watchedCount(): number {
    return [...this.watchers.keys()].filter((d) => !this.missing.has(d)).length;
  }

  close(): void {
    this.closed = true;
    for (const w of new Set(this.watchers.values())) w.close();
    this.watchers.clear();
    this.missing.clear();
  }

  private watchDir(dir: string): void {
    if (this.closed || this.watchers.has(dir)) return;
    try {
      const w = watch(dir, { persistent: true }, (_event, name) => {
        if (name) this.opts.onEvent(path.join(dir, name.toString()));
        else this.opts.onEvent(dir);
        if (this.missing.size > 0) this.retryMissing();
      });
      w.on('error', (err) => this.opts.onError?.(err));
      this.watchers.set(dir, w);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.opts.onError?.(err as Error);
        return;
      }
      this.missing.add(dir);
      const parent = path.dirname(dir);
      if (parent === dir) return;
      this.watchDir(parent);
      const stand = this.watchers.get(parent);
      if (stand && !this.watchers.has(dir)) this.watchers.set(dir, stand);
    }
  }

  /** Something changed in a watched directory: a missing one may exist now. */
  private retryMissing(): void {
    for (const dir of [...this.missing]) {
      const before = this.watchers.get(dir);
      this.watchers.delete(dir);
      this.missing.delete(dir);
      this.watchDir(dir);
      if (!this.missing.has(dir)) this.opts.onEvent(dir);
      else if (!this.watchers.has(dir) && before) this.watchers.set(dir, before);
    }
  }
}
