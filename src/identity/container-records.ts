// What the resolver knows about each running container, kept honest by runtime events: a record
// is inspected once (concurrent first sights share the inspect), dropped on die/destroy/rename or
// an event about its image, and kept out of the cache when an event races its inspect. While the
// event stream is down, records may miss events: they are "doubtful", served only while their
// init process is the one recorded, and checked against the runtime again once it reconnects.

import { parseCgroupFile } from './cgroup.js';
import { errorMessage } from '../shared/error-message.js';
import { ImageCache } from './image-cache.js';
import { podCgroupProblem } from './cri/pod-cgroup.js';
import { readProcFile, readStat } from './procfs.js';
import {
  RuntimeError,
  type ContainerRuntime,
  type RuntimeContainer,
  type RuntimeHint,
  type RuntimeImage,
} from './runtime.js';
import type { CgroupVerdict, ContainerSummary, Identity } from './types.js';

/** What we keep per running container: everything an Identity needs except the caller's own ids. */
export interface ContainerRecord {
  readonly id: string;
  readonly initPid: number;
  readonly initStartTime: string;
  /** The container's own cgroup paths (cut after the id segment), from its init process. */
  readonly paths: ReadonlySet<string>;
  readonly imageId: string;
  readonly summary: ContainerSummary;
  /** Shared, frozen fields of every Identity for this container. */
  readonly base: Omit<Identity, 'pid' | 'tgid' | 'uid' | 'gid' | 'startTime'>;
}

export type Loaded = { readonly record: ContainerRecord } | { readonly reason: string };

export interface ContainerRecordsOptions {
  readonly runtime: ContainerRuntime;
  readonly procRoot: string;
  readonly log: (msg: string) => void;
  /** Bound on cached images (least recently used go first). */
  readonly maxImages: number;
  /** A re-check found a record stale: the owner drops it (drop()) and whatever depends on it. */
  readonly onStale: (containerId: string, why: string) => void;
}

export class ContainerRecords {
  private readonly records = new Map<string, ContainerRecord>();
  private readonly loading = new Map<string, Promise<Loaded>>();
  private readonly images: ImageCache;
  /** Bumped by drops during an inspect in flight, so that its stale answer is not cached. */
  private readonly generations = new Map<string, number>();
  /** Records that may have missed events (loaded or kept while the event stream was down). */
  private readonly doubtful = new Set<string>();
  private live = false;
  private closed = false;
  private reverifying = false;
  private reverifyTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: ContainerRecordsOptions) {
    this.images = new ImageCache({ inspect: (id) => opts.runtime.inspectImage(id), maxImages: opts.maxImages });
  }

  get size(): number {
    return this.records.size;
  }

  get(id: string): ContainerRecord | undefined {
    return this.records.get(id);
  }

  summaries(): readonly ContainerSummary[] {
    return [...this.records.values()].map((record) => record.summary);
  }

  /** Whether a record may be served: not doubtful, or its init is still the process recorded. */
  usable(record: ContainerRecord): boolean {
    return !this.doubtful.has(record.id) || this.initAlive(record);
  }

  /** Single-flight inspect of a container into a record. */
  load(id: string, hint?: RuntimeHint): Promise<Loaded> {
    let pending = this.loading.get(id);
    if (pending === undefined) {
      pending = this.inspectIntoRecord(id, hint).finally(() => {
        this.loading.delete(id);
        this.generations.delete(id);
      });
      this.loading.set(id, pending);
    }
    return pending;
  }

  /** An image through the bounded cache. Rejects with RuntimeError. */
  image(imageId: string): Promise<RuntimeImage> {
    return this.images.get(imageId);
  }

  /** An event changed or removed an image: forget it; the ids of the records running it. */
  imageChanged(imageId: string): readonly string[] {
    this.images.delete(imageId);
    return [...this.records.values()].filter((record) => record.imageId === imageId).map((record) => record.id);
  }

  /** Forgets a record (and marks an inspect in flight stale); whether one was cached. */
  drop(id: string): boolean {
    // Only an inspect in flight needs to know (see inspectIntoRecord); otherwise forget the id.
    if (this.loading.has(id)) this.generations.set(id, (this.generations.get(id) ?? 0) + 1);
    else this.generations.delete(id);
    this.doubtful.delete(id);
    return this.records.delete(id);
  }

  get eventsLive(): boolean {
    return this.live;
  }

  /** The event stream is (re)connected: events may have been missed, so check every record again. */
  eventsResumed(): void {
    this.live = true;
    for (const id of this.records.keys()) this.doubtful.add(id);
    void this.reverifyDoubtful();
  }

  eventsLost(): void {
    this.live = false;
    for (const id of this.records.keys()) this.doubtful.add(id);
  }

  /** Forgets everything; resolves once inspects in flight have settled. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.reverifyTimer !== undefined) clearTimeout(this.reverifyTimer);
    this.records.clear();
    this.doubtful.clear();
    await Promise.allSettled([...this.loading.values(), this.images.clear()]);
  }

  private async reverifyDoubtful(): Promise<void> {
    if (this.reverifying || this.closed) return;
    this.reverifying = true;
    let retry = false;
    try {
      for (const id of [...this.doubtful]) {
        const record = this.records.get(id);
        if (record === undefined) {
          this.doubtful.delete(id);
          continue;
        }
        let current: RuntimeContainer;
        try {
          current = await this.opts.runtime.inspectContainer(id);
        } catch (err) {
          if (err instanceof RuntimeError && err.kind === 'not-found') {
            this.opts.onStale(id, 'gone after reconnect');
          } else {
            // Meanwhile it stays doubtful: checked against its init process on every use.
            this.opts.log(`identity: cannot re-verify container ${id.slice(0, 12)}: ${errorMessage(err)}`);
            retry = true;
          }
          continue;
        }
        // Dropped or replaced by an event meanwhile: nothing left to verify.
        if (!this.live || this.records.get(id) !== record) continue;
        const same =
          current.running &&
          current.pid === record.initPid &&
          current.imageId === record.imageId &&
          current.name === record.summary.name;
        if (same && this.initAlive(record)) this.doubtful.delete(id);
        else this.opts.onStale(id, 'changed while docker events were disconnected');
      }
    } finally {
      this.reverifying = false;
    }
    if (retry && this.live && !this.closed && this.reverifyTimer === undefined) {
      this.reverifyTimer = setTimeout(() => {
        this.reverifyTimer = undefined;
        void this.reverifyDoubtful();
      }, 1_000);
      this.reverifyTimer.unref();
    }
  }

  /** The container's init is still the process we recorded (it is gone once the container dies). */
  initAlive(record: ContainerRecord): boolean {
    try {
      const stat = readStat(this.opts.procRoot, record.initPid);
      return stat.startTime === record.initStartTime && stat.state !== 'Z' && stat.state !== 'X';
    } catch {
      return false;
    }
  }

  private async inspectIntoRecord(id: string, hint?: RuntimeHint): Promise<Loaded> {
    // One retry: a rename or die event racing the inspect makes its answer stale.
    for (let attempt = 0; attempt < 2; attempt++) {
      const generation = this.generations.get(id) ?? 0;
      const loaded = await this.buildRecord(id, hint);
      if ('reason' in loaded) return loaded;
      if (this.closed) return { reason: 'identity resolver closed' };
      // Cached under the id asked for: the runtime's answer must be about that very container.
      if (loaded.record.id !== id)
        return { reason: `runtime answered for ${loaded.record.id.slice(0, 12)}, not ${id.slice(0, 12)}` };
      if ((this.generations.get(id) ?? 0) !== generation) continue;
      this.records.set(id, loaded.record);
      if (this.live) this.doubtful.delete(id);
      else this.doubtful.add(id);
      return loaded;
    }
    return { reason: `container ${id.slice(0, 12)} changed while it was being inspected` };
  }

  private async buildRecord(idOrName: string, hint?: RuntimeHint): Promise<Loaded> {
    let container: RuntimeContainer;
    let image: RuntimeImage;
    try {
      container = await this.opts.runtime.inspectContainer(idOrName, hint);
      if (!container.running || container.pid === 0)
        return { reason: `container ${container.id.slice(0, 12)} is not running` };
      image = await this.images.get(container.imageId);
    } catch (err) {
      return { reason: errorMessage(err) };
    }
    const id = container.id;
    const procRoot = this.opts.procRoot;
    // The container's own cgroup, read from its init process: callers must be inside it.
    let initStartTime: string;
    let initVerdict: CgroupVerdict;
    try {
      initStartTime = readStat(procRoot, container.pid).startTime;
      initVerdict = parseCgroupFile(readProcFile(procRoot, container.pid, 'cgroup'));
    } catch (err) {
      return {
        reason: `container ${id.slice(0, 12)}'s init process ${container.pid} is not readable: ${errorMessage(err)}`,
      };
    }
    if (initVerdict.kind !== 'container' || initVerdict.containerId !== id) {
      return {
        reason:
          `container ${id.slice(0, 12)}'s init process ${container.pid} is not in the container's cgroup ` +
          `(${initVerdict.kind === 'unknown' ? initVerdict.reason : initVerdict.kind}); is pald in the host pid namespace?`,
      };
    }
    // A pod's container: the pod uid its runtime reports must be the one in its cgroup path.
    const podProblem = container.pod !== undefined ? podCgroupProblem(container.pod, initVerdict.paths) : undefined;
    if (podProblem !== undefined) return { reason: `container ${id.slice(0, 12)}: ${podProblem}` };
    return { record: recordOf(container, image, initStartTime, initVerdict.paths) };
  }
}

function recordOf(
  container: RuntimeContainer,
  image: RuntimeImage,
  initStartTime: string,
  paths: readonly string[],
): ContainerRecord {
  // Keys come from the container's config: a null-prototype record, so `__proto__` is a label too.
  const runtimeLabels: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of Object.entries(container.labels)) {
    // Config.Labels merges the image's labels in; what differs was set at `docker run --label`.
    if (!Object.hasOwn(image.labels, key) || image.labels[key] !== value) runtimeLabels[key] = value;
  }
  const summary: ContainerSummary = Object.freeze({
    containerId: container.id,
    name: container.name,
    imageId: container.imageId,
    imageRef: container.imageRef,
    ...(container.runtime !== undefined ? { runtime: container.runtime } : {}),
    ...(container.pod !== undefined ? { pod: container.pod } : {}),
  });
  const base = Object.freeze({
    kind: 'container' as const,
    containerId: container.id,
    name: container.name,
    imageId: container.imageId,
    imageRef: container.imageRef,
    repoTags: Object.freeze([...image.repoTags]),
    repoDigests: Object.freeze([...image.repoDigests]),
    imageLabels: Object.freeze({ ...image.labels }),
    runtimeLabels: Object.freeze(runtimeLabels),
    ...(container.runtime !== undefined ? { runtime: container.runtime } : {}),
    ...(container.pod !== undefined ? { pod: container.pod } : {}),
  });
  return {
    id: container.id,
    initPid: container.pid,
    initStartTime,
    paths: new Set(paths),
    imageId: container.imageId,
    summary,
    base,
  };
}
