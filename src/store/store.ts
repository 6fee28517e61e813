// ManifestStore: the current validated manifest, kept-last-good on bad edits,
// reloaded on SIGHUP (reload()) and when the manifest or a ciphertext changes.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { DirWatcher } from './dir-watch.js';
import { type ManifestParse } from './manifest.js';
import { parseManifestOffThread } from './manifest-off-thread.js';
import { fileSafetyProblem, FileSafetyError } from './file-safety.js';
import type { ManifestEntry, ManifestProblem, ManifestSnapshot, ManifestStoreOptions } from './types.js';
import { errorMessage } from '../shared/error-message.js';

type Listener = (snap: ManifestSnapshot, previous: ManifestSnapshot) => void;

const REJECTED = ' (manifest rejected, serving the last good version)';

export class ManifestStore {
  private snapshot: ManifestSnapshot;
  private readonly listeners: Listener[] = [];
  private watcher: DirWatcher | undefined;
  private watchedDirs = new Set<string>();
  private interesting = new Set<string>();
  /** Ciphertext paths named by the last parsed manifest, including entries skipped for a problem. */
  private referenced: readonly string[] = [];
  private debounce: NodeJS.Timeout | undefined;
  private running: Promise<ManifestSnapshot> | undefined;
  private rerun = false;
  private closed = false;
  /** Passes over the files finished so far, whether or not they changed anything (loads()). */
  private passes = 0;

  private constructor(
    readonly path: string,
    private readonly opts: ManifestStoreOptions,
  ) {
    this.snapshot = { entries: new Map(), problems: [], generation: 0, loadedAt: Date.now() };
  }

  static async open(manifestPath: string, opts: ManifestStoreOptions = {}): Promise<ManifestStore> {
    const store = new ManifestStore(path.resolve(manifestPath), opts);
    await store.reload();
    // File safety (SPEC §3): at start an unsafe manifest or ciphertext is an error, not a problem.
    const unsafe = store.current().problems.filter((p) => p.safety);
    if (unsafe.length > 0) {
      await store.close();
      throw new FileSafetyError(
        unsafe.map((p) => (p.message.endsWith(REJECTED) ? p.message.slice(0, -REJECTED.length) : p.message)).join('; '),
        store.path,
      );
    }
    if (opts.watch ?? true) store.startWatching();
    return store;
  }

  current(): ManifestSnapshot {
    return this.snapshot;
  }

  onChange(listener: Listener): void {
    this.listeners.push(listener);
  }

  /** Reloads now; concurrent calls share one reload (and a call during a reload queues one more). */
  reload(): Promise<ManifestSnapshot> {
    return this.load(false);
  }

  /** `quietIfUnchanged`: the first pass, if it finds exactly what is held, is no change (startWatching). */
  private load(quietIfUnchanged: boolean): Promise<ManifestSnapshot> {
    if (this.running) {
      this.rerun = true;
      return this.running;
    }
    const run = async (): Promise<ManifestSnapshot> => {
      let snap: ManifestSnapshot;
      let quiet = quietIfUnchanged;
      do {
        this.rerun = false;
        snap = await this.loadOnce(quiet);
        this.passes++;
        quiet = false;
      } while (this.rerun && !this.closed);
      return snap;
    };
    this.running = run().finally(() => (this.running = undefined));
    return this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.debounce) clearTimeout(this.debounce);
    this.watcher?.close();
    this.watcher = undefined;
    await this.running?.catch(() => undefined);
  }

  private log(message: string): void {
    this.opts.log?.(message);
  }

  /** How many passes over the files have finished, changed anything or not (tests, diagnostics). */
  loads(): number {
    return this.passes;
  }

  private async loadOnce(quietIfUnchanged: boolean): Promise<ManifestSnapshot> {
    const previous = this.snapshot;
    let entries: ReadonlyMap<string, ManifestEntry> = previous.entries;
    let problems: ManifestProblem[];
    let text: string | undefined;
    try {
      await stat(this.path); // a missing manifest is not a File safety problem (see below)
      const unsafe = await fileSafetyProblem(this.path, { kind: 'manifest' });
      if (unsafe) throw new FileSafetyError(unsafe, this.path);
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems =
        err instanceof FileSafetyError
          ? [{ file: this.path, message: err.message + REJECTED, safety: true }]
          : [
              {
                file: this.path,
                message: code === 'ENOENT' ? 'manifest not found' : `cannot read manifest: ${(err as Error).message}`,
              },
            ];
      // A missing manifest at start is an empty one; later, keep the last good.
    }
    if (text !== undefined) {
      const parsed = await parseManifestOffThread(this.path, text).catch((err: unknown): ManifestParse => ({
        // parseManifest reports every problem of the text as a problem; a throw is a bug of ours.
        // It must still not take the last good manifest (or pald) with it.
        ok: false,
        problems: [
          {
            file: this.path,
            message: `manifest could not be parsed: ${errorMessage(err)}`,
          },
        ],
      }));
      if (parsed.ok) {
        entries = parsed.entries;
        problems = parsed.problems;
        this.referenced = parsed.referenced;
      } else {
        problems = [...parsed.problems.map((p) => ({ ...p, message: p.message + REJECTED }))];
      }
    }
    // The look again after the watches were set (startWatching) that finds nothing new is no
    // change: no new generation, no listener told, no problem logged twice.
    if (quietIfUnchanged && sameContent(previous, entries, problems!)) return previous;
    const snap: ManifestSnapshot = {
      entries,
      problems: problems!,
      generation: previous.generation + 1,
      loadedAt: Date.now(),
    };
    this.snapshot = snap;
    for (const p of snap.problems) {
      this.log(
        `manifest: ${p.file}${p.line === undefined ? '' : `:${p.line}`}${p.entry ? ` [${p.entry}]` : ''}: ${p.message}`,
      );
    }
    try {
      this.updateWatchSet();
    } catch (err) {
      this.log(`manifest: cannot watch the files it names: ${(err as Error).message}`);
    }
    for (const l of this.listeners) {
      try {
        l(snap, previous);
      } catch (err) {
        this.log(`manifest: change listener failed: ${(err as Error).message}`);
      }
    }
    return snap;
  }

  /** Files whose change triggers a reload: the manifest and every ciphertext. */
  private updateWatchSet(): void {
    this.interesting = new Set([
      this.path,
      ...this.referenced,
      ...[...this.snapshot.entries.values()].map((e) => e.ciphertextPath),
    ]);
    if (!this.watcher) return;
    const dirs = new Set([...this.interesting].map((f) => path.dirname(f)));
    const added = [...dirs].filter((d) => !this.watchedDirs.has(d));
    if (added.length > 0) {
      // Known before the watch is set: a directory that appears while add() runs is reported then.
      for (const d of added) this.watchedDirs.add(d);
      this.watcher.add(added);
      // This reload looked at the new directories before they were watched: what appeared in
      // between made no event, so look once more now that they are.
      this.scheduleReload();
    }
  }

  /**
   * A reload after a quiet `debounceMs` (a burst of events is one reload). `lookAgain`: the one
   * startWatching asks for, which is no change if it finds what is held; any event's reload
   * scheduled after it takes its place.
   */
  private scheduleReload(lookAgain = false): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      // Nobody awaits a watched reload: its failure is logged here, never left unhandled.
      if (!this.closed)
        this.load(lookAgain).catch((err: unknown) => this.log(`manifest: reload failed: ${errorMessage(err)}`));
    }, this.opts.debounceMs ?? 100);
  }

  private startWatching(): void {
    // Directories, not files: editors and `pal seal` replace files by rename, which a watch on
    // the old inode would miss; and one watch per directory costs the same for 10,000 secrets.
    const dirs = [...new Set([...this.interesting].map((f) => path.dirname(f)))];
    this.watchedDirs = new Set(dirs);
    const onEvent = (file: string): void => {
      const p = path.resolve(file);
      // A watched directory itself: it appeared (or changed) and may hold a ciphertext now.
      if (!this.interesting.has(p) && !this.watchedDirs.has(p)) return;
      this.scheduleReload();
    };
    this.watcher = new DirWatcher({
      onEvent,
      onError: (err) => this.log(`manifest: watcher error: ${err.message}`),
      ...(this.opts.watchDirectory ? { watch: this.opts.watchDirectory } : {}),
    });
    this.watcher.add(dirs);
    // The first reload read the files before they were watched: a change in between made no
    // event, so look once more now that they are.
    this.scheduleReload(true);
  }
}

/** Whether a reload found exactly what `previous` holds (every field of every entry, every problem). */
function sameContent(
  previous: ManifestSnapshot,
  entries: ReadonlyMap<string, ManifestEntry>,
  problems: readonly ManifestProblem[],
): boolean {
  return (
    JSON.stringify(problems) === JSON.stringify(previous.problems) &&
    (entries === previous.entries || JSON.stringify([...entries]) === JSON.stringify([...previous.entries]))
  );
}
