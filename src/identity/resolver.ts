// pid → Identity: the /proc reading, the pid-reuse guard, and the per-container cache kept
// honest by runtime events. One function (resolve) is what the filesystem layer calls.
//
// Security shape of a resolution:
//   1. read /proc/<pid>/stat: start time S (a pid alone never identifies a process)
//   2. cgroup verdict for (pid, S): cached, or read from /proc/<pid>/cgroup
//   3. container record: cached (dropped on die/destroy/rename), or inspected
//   4. the caller's container cgroup path must be the container's own (its init's)
//   5. no container named: host only in pald's own pid and mount namespaces, else unknown
//   6. if anything was read or awaited, read the start time again: changed → deny
// Every failure is kind 'unknown' with a reason; nothing throws to the caller.

import { parseCgroupFile } from './cgroup.js';
import {
  checkPidNamespace,
  closeFd,
  openStat,
  ProcError,
  readNamespaces,
  readProcFile,
  readStat,
  readStatFd,
  readStatusIds,
  type HostNamespaces,
  type PidNamespaceCheck,
} from './procfs.js';
import { RuntimeError, type ContainerRuntime, type RuntimeContainer, type RuntimeEvent, type RuntimeImage } from './runtime.js';
import type { CallerRef, CgroupVerdict, ContainerSummary, Identity, IdentityResolver, RuntimeStatus } from './types.js';

export interface ResolverCoreOptions {
  readonly runtime: ContainerRuntime;
  readonly procRoot?: string;
  readonly log?: (msg: string) => void;
  /** Bound on cached callers; each holds one open file descriptor. */
  readonly maxCachedProcesses?: number;
}

/** What we keep per running container: everything an Identity needs except the caller's own ids. */
interface ContainerRecord {
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

/**
 * A caller seen before, keyed by pid and pinned by an open /proc/<pid>/stat: while reads of
 * that fd succeed with the same start time, the pid still names this very process (a reused
 * pid makes them fail with ESRCH). So a cached caller costs one pread, not open+read+close.
 */
interface ProcessEntry {
  readonly pid: number;
  readonly statFd: number;
  readonly startTime: string;
  readonly verdict: CgroupVerdict;
  readonly tgid: number;
}

type Loaded = { readonly record: ContainerRecord } | { readonly reason: string };

export interface ResolverWithDiagnostics extends IdentityResolver {
  /** The startup check of pald's pid namespace. */
  readonly pidNamespace: PidNamespaceCheck;
}

export function createResolver(options: ResolverCoreOptions): ResolverWithDiagnostics {
  const runtime = options.runtime;
  const procRoot = options.procRoot ?? '/proc';
  const log = options.log ?? (() => {});
  const maxProcesses = options.maxCachedProcesses ?? 4_096;

  const processes = new Map<number, ProcessEntry>();
  const processesByContainer = new Map<string, Set<number>>();
  const records = new Map<string, ContainerRecord>();
  const loading = new Map<string, Promise<Loaded>>();
  const images = new Map<string, RuntimeImage>();
  const imageLoading = new Map<string, Promise<RuntimeImage>>();
  /** Bumped by invalidations during an inspect in flight, so that its stale answer is not cached. */
  const generations = new Map<string, number>();
  /** Records that may have missed events (loaded or kept while the event stream was down). */
  const doubtful = new Set<string>();
  const listeners: Array<(containerId: string) => void> = [];

  let eventsLive = false;
  let lastDisconnect: string | undefined = 'not connected yet';
  let closed = false;
  let reverifying = false;
  let reverifyTimer: NodeJS.Timeout | undefined;

  const pidNamespace = checkPidNamespace(procRoot);
  const warnings: string[] = [];
  // "host" is a process in pald's own pid and mount namespaces (SPEC §4): a cgroup that names no
  // container we know says nothing about where a process runs (ctr, Garden, rootless runtimes).
  let hostNamespaces: HostNamespaces | undefined;
  let hostNamespacesProblem = '';
  try {
    hostNamespaces = readNamespaces(procRoot, 'self');
  } catch (err) {
    hostNamespacesProblem = `pald cannot read its own namespaces (${errorMessage(err)}): no caller can be recognised as host`;
    warnings.push(hostNamespacesProblem);
    log(`WARNING: ${hostNamespacesProblem}`);
  }
  if (pidNamespace.hostPidNamespace !== true) {
    const warning =
      `pald must run in the host pid namespace to attribute callers (${pidNamespace.detail}); ` +
      'callers outside it cannot be identified and will be denied';
    warnings.push(warning);
    log(`WARNING: ${warning}`);
  }

  const stopWatching = runtime.watch({
    onConnected() {
      eventsLive = true;
      lastDisconnect = undefined;
      // Events may have been missed while disconnected: check every cached container again.
      for (const id of records.keys()) doubtful.add(id);
      void reverifyDoubtful();
    },
    onDisconnected(reason) {
      eventsLive = false;
      lastDisconnect = reason;
      for (const id of records.keys()) doubtful.add(id);
    },
    onEvent: handleEvent,
  });

  function handleEvent(event: RuntimeEvent): void {
    if (event.type === 'container') {
      invalidate(event.id, `docker event ${event.action}`);
      return;
    }
    images.delete(event.id);
    for (const record of [...records.values()]) {
      if (record.imageId === event.id) invalidate(record.id, `docker image event ${event.action}`);
    }
  }

  function invalidate(id: string, why: string): void {
    // Only an inspect in flight needs to know (see inspectIntoRecord); otherwise forget the id.
    if (loading.has(id)) generations.set(id, (generations.get(id) ?? 0) + 1);
    else generations.delete(id);
    const had = records.delete(id);
    doubtful.delete(id);
    const pids = processesByContainer.get(id);
    processesByContainer.delete(id);
    if (pids !== undefined) for (const pid of pids) forgetProcess(pid);
    if (!had && pids === undefined) return;
    log(`identity: dropped container ${id.slice(0, 12)} (${why})`);
    for (const listener of listeners) {
      try {
        listener(id);
      } catch (err) {
        log(`identity: invalidation listener failed: ${errorMessage(err)}`);
      }
    }
  }

  async function reverifyDoubtful(): Promise<void> {
    if (reverifying || closed) return;
    reverifying = true;
    let retry = false;
    try {
      for (const id of [...doubtful]) {
        const record = records.get(id);
        if (record === undefined) {
          doubtful.delete(id);
          continue;
        }
        let current: RuntimeContainer;
        try {
          current = await runtime.inspectContainer(id);
        } catch (err) {
          if (err instanceof RuntimeError && err.kind === 'not-found') {
            invalidate(id, 'gone after reconnect');
          } else {
            // Meanwhile it stays doubtful: checked against its init process on every use.
            log(`identity: cannot re-verify container ${id.slice(0, 12)}: ${errorMessage(err)}`);
            retry = true;
          }
          continue;
        }
        // Dropped or replaced by an event meanwhile: nothing left to verify.
        if (!eventsLive || records.get(id) !== record) continue;
        const same =
          current.running &&
          current.pid === record.initPid &&
          current.imageId === record.imageId &&
          current.name === record.summary.name;
        if (same && initAlive(record)) doubtful.delete(id);
        else invalidate(id, 'changed while docker events were disconnected');
      }
    } finally {
      reverifying = false;
    }
    if (retry && eventsLive && !closed && reverifyTimer === undefined) {
      reverifyTimer = setTimeout(() => {
        reverifyTimer = undefined;
        void reverifyDoubtful();
      }, 1_000);
      reverifyTimer.unref();
    }
  }

  /** The container's init is still the process we recorded (it is gone once the container dies). */
  function initAlive(record: ContainerRecord): boolean {
    try {
      const stat = readStat(procRoot, record.initPid);
      return stat.startTime === record.initStartTime && stat.state !== 'Z' && stat.state !== 'X';
    } catch {
      return false;
    }
  }

  /**
   * Every process of a container has the same cgroup file: parse each distinct text once.
   * (The parser is pure, so a memo of its results is exact.)
   */
  const verdictMemo = new Map<string, CgroupVerdict>();
  function cgroupVerdict(text: string): CgroupVerdict {
    let verdict = verdictMemo.get(text);
    if (verdict === undefined) {
      verdict = parseCgroupFile(text);
      if (verdictMemo.size >= 1024) verdictMemo.clear();
      verdictMemo.set(text, verdict);
    }
    return verdict;
  }

  function forgetProcess(pid: number): void {
    const entry = processes.get(pid);
    if (entry === undefined) return;
    processes.delete(pid);
    closeFd(entry.statFd);
    if (entry.verdict.kind === 'container') {
      const pids = processesByContainer.get(entry.verdict.containerId);
      pids?.delete(pid);
      if (pids?.size === 0) processesByContainer.delete(entry.verdict.containerId);
    }
  }

  /** Drop the oldest eighth of cached callers (Map iterates in insertion order). */
  function evictOldest(): void {
    const oldest = [...processes.keys()].slice(0, Math.max(1, Math.ceil(processes.size / 8)));
    for (const pid of oldest) forgetProcess(pid);
  }

  function cacheProcess(entry: ProcessEntry): void {
    forgetProcess(entry.pid);
    if (processes.size >= maxProcesses) evictOldest();
    processes.set(entry.pid, entry);
    if (entry.verdict.kind === 'container') {
      const id = entry.verdict.containerId;
      let pids = processesByContainer.get(id);
      if (pids === undefined) processesByContainer.set(id, (pids = new Set()));
      pids.add(entry.pid);
    }
  }

  async function loadImage(imageId: string): Promise<RuntimeImage> {
    const cached = images.get(imageId);
    if (cached !== undefined) return cached;
    let pending = imageLoading.get(imageId);
    if (pending === undefined) {
      pending = runtime.inspectImage(imageId).then(
        (image) => {
          imageLoading.delete(imageId);
          images.set(imageId, image);
          return image;
        },
        (err: unknown) => {
          imageLoading.delete(imageId);
          throw err;
        },
      );
      imageLoading.set(imageId, pending);
    }
    return pending;
  }

  /** Single-flight inspect of a container into a record. */
  function loadContainer(id: string): Promise<Loaded> {
    let pending = loading.get(id);
    if (pending === undefined) {
      pending = inspectIntoRecord(id).finally(() => {
        loading.delete(id);
        generations.delete(id);
      });
      loading.set(id, pending);
    }
    return pending;
  }

  async function inspectIntoRecord(id: string): Promise<Loaded> {
    // One retry: a rename or die event racing the inspect makes its answer stale.
    for (let attempt = 0; attempt < 2; attempt++) {
      const generation = generations.get(id) ?? 0;
      const loaded = await buildRecord(id);
      if ('reason' in loaded) return loaded;
      if (closed) return { reason: 'identity resolver closed' };
      if ((generations.get(id) ?? 0) !== generation) continue;
      records.set(id, loaded.record);
      if (eventsLive) doubtful.delete(id);
      else doubtful.add(id);
      return loaded;
    }
    return { reason: `container ${id.slice(0, 12)} changed while it was being inspected` };
  }

  async function buildRecord(idOrName: string): Promise<Loaded> {
    let container: RuntimeContainer;
    let image: RuntimeImage;
    try {
      container = await runtime.inspectContainer(idOrName);
      if (!container.running || container.pid === 0) return { reason: `container ${container.id.slice(0, 12)} is not running` };
      image = await loadImage(container.imageId);
    } catch (err) {
      return { reason: errorMessage(err) };
    }
    const id = container.id;
    // The container's own cgroup, read from its init process: callers must be inside it.
    let initStartTime: string;
    let initVerdict: CgroupVerdict;
    try {
      initStartTime = readStat(procRoot, container.pid).startTime;
      initVerdict = parseCgroupFile(readProcFile(procRoot, container.pid, 'cgroup'));
    } catch (err) {
      return { reason: `container ${id.slice(0, 12)}'s init process ${container.pid} is not readable: ${errorMessage(err)}` };
    }
    if (initVerdict.kind !== 'container' || initVerdict.containerId !== id) {
      return {
        reason:
          `container ${id.slice(0, 12)}'s init process ${container.pid} is not in the container's cgroup ` +
          `(${initVerdict.kind === 'unknown' ? initVerdict.reason : initVerdict.kind}); is pald in the host pid namespace?`,
      };
    }
    // Keys come from the container's config: a null-prototype record, so `__proto__` is a label too.
    const runtimeLabels: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [key, value] of Object.entries(container.labels)) {
      // Config.Labels merges the image's labels in; what differs was set at `docker run --label`.
      if (!Object.hasOwn(image.labels, key) || image.labels[key] !== value) runtimeLabels[key] = value;
    }
    const summary: ContainerSummary = Object.freeze({
      containerId: id,
      name: container.name,
      imageId: container.imageId,
      imageRef: container.imageRef,
    });
    const base = Object.freeze({
      kind: 'container' as const,
      containerId: id,
      name: container.name,
      imageId: container.imageId,
      imageRef: container.imageRef,
      repoTags: Object.freeze([...image.repoTags]),
      repoDigests: Object.freeze([...image.repoDigests]),
      imageLabels: Object.freeze({ ...image.labels }),
      runtimeLabels: Object.freeze(runtimeLabels),
    });
    return {
      record: {
        id,
        initPid: container.pid,
        initStartTime,
        paths: new Set(initVerdict.paths),
        imageId: container.imageId,
        summary,
        base,
      },
    };
  }

  function unknown(caller: CallerRef, reason: string, tgid = caller.pid, startTime?: string): Identity {
    return { kind: 'unknown', pid: caller.pid, tgid, uid: caller.uid, gid: caller.gid, startTime, reason };
  }

  function identityOf(caller: CallerRef, entry: ProcessEntry, record: ContainerRecord | undefined): Identity {
    const ids = { pid: caller.pid, tgid: entry.tgid, uid: caller.uid, gid: caller.gid, startTime: entry.startTime };
    if (record !== undefined) return { ...record.base, ...ids };
    return { kind: 'host', ...ids, reason: "no container id in its cgroups; in pald's pid and mount namespaces" };
  }

  /** The cached caller, if the pid still names it; a dead or replaced one is forgotten. */
  function cachedProcess(pid: number): ProcessEntry | undefined {
    const entry = processes.get(pid);
    if (entry === undefined) return undefined;
    try {
      const stat = readStatFd(entry.statFd);
      if (stat.startTime === entry.startTime && stat.state !== 'Z' && stat.state !== 'X') return entry;
    } catch {
      // ESRCH: the process we pinned is gone; the pid may already be someone else's.
    }
    forgetProcess(pid);
    return undefined;
  }

  async function resolveCaller(caller: CallerRef): Promise<Identity> {
    if (closed) return unknown(caller, 'identity resolver closed');
    const pid = caller.pid;
    if (!Number.isSafeInteger(pid) || pid <= 0) {
      return unknown(caller, `caller pid ${pid} is not visible in pald's pid namespace`);
    }

    // Fast path: a caller seen before, still alive, in a container whose record is current.
    const cached = cachedProcess(pid);
    if (cached !== undefined) {
      if (cached.verdict.kind === 'host') return identityOf(caller, cached, undefined);
      if (cached.verdict.kind === 'container') {
        const record = records.get(cached.verdict.containerId);
        if (record !== undefined && (!doubtful.has(record.id) || initAlive(record))) return identityOf(caller, cached, record);
      }
      forgetProcess(pid);
    }

    // First sight: pin the process, read its cgroups, resolve, then check it is still the one pinned.
    let statFd: number;
    try {
      statFd = openStat(procRoot, pid);
    } catch (err) {
      const code = err instanceof ProcError ? err.code : undefined;
      if (code === 'EMFILE' || code === 'ENFILE') {
        // Out of descriptors: our cache holds most of them. Shrink it and try once more.
        evictOldest();
        try {
          statFd = openStat(procRoot, pid);
        } catch (again) {
          return unknown(caller, `cannot pin process ${pid}: ${errorMessage(again)}`);
        }
      } else if (code === 'ENOENT' || code === 'ESRCH') {
        return unknown(caller, `process ${pid} is gone: ${errorMessage(err)}`);
      } else {
        return unknown(caller, `cannot pin process ${pid}: ${errorMessage(err)}`);
      }
    }
    let kept = false;
    try {
      const result = await resolveFirstSight(caller, statFd);
      if ('entry' in result) {
        cacheProcess(result.entry);
        kept = true;
      }
      return result.identity;
    } finally {
      if (!kept) closeFd(statFd);
    }
  }

  /** Why a process whose cgroups name no container is not host, or undefined when it is. */
  function outsideHostNamespaces(pid: number): string | undefined {
    if (hostNamespaces === undefined) return hostNamespacesProblem;
    let theirs: HostNamespaces;
    try {
      theirs = readNamespaces(procRoot, pid);
    } catch (err) {
      return `no container id in its cgroups, and its namespaces are not readable: ${errorMessage(err)}`;
    }
    if (theirs.pid !== hostNamespaces.pid) {
      return `no known container in its cgroups, but in pid namespace ${theirs.pid}, not pald's ${hostNamespaces.pid}`;
    }
    if (theirs.mnt !== hostNamespaces.mnt) {
      return `no known container in its cgroups, but in mount namespace ${theirs.mnt}, not pald's ${hostNamespaces.mnt}`;
    }
    return undefined;
  }

  async function resolveFirstSight(
    caller: CallerRef,
    statFd: number,
  ): Promise<{ identity: Identity; entry: ProcessEntry } | { identity: Identity }> {
    const pid = caller.pid;
    let startTime: string;
    let verdict: CgroupVerdict;
    let tgid: number;
    try {
      const stat = readStatFd(statFd);
      if (stat.state === 'Z' || stat.state === 'X') return { identity: unknown(caller, `process ${pid} has exited`) };
      startTime = stat.startTime;
      verdict = cgroupVerdict(readProcFile(procRoot, pid, 'cgroup'));
      tgid = readStatusIds(procRoot, pid).tgid;
    } catch (err) {
      return { identity: unknown(caller, `cannot read process ${pid}: ${errorMessage(err)}`) };
    }
    // Not cached when unknown: a process being moved between cgroups (e.g. `docker exec` starting) settles soon.
    if (verdict.kind === 'unknown') return { identity: unknown(caller, verdict.reason, tgid, startTime) };
    if (verdict.kind === 'host') {
      const outside = outsideHostNamespaces(pid);
      if (outside !== undefined) return { identity: unknown(caller, outside, tgid, startTime) };
    }

    let record: ContainerRecord | undefined;
    if (verdict.kind === 'container') {
      const id = verdict.containerId;
      record = records.get(id);
      if (record !== undefined && doubtful.has(id) && !initAlive(record)) {
        invalidate(id, 'its init process is gone');
        record = undefined;
      }
      if (record === undefined) {
        const loaded = await loadContainer(id);
        if ('reason' in loaded) return { identity: unknown(caller, loaded.reason, tgid, startTime) };
        record = loaded.record;
      }
      for (const path of verdict.paths) {
        if (!record.paths.has(path)) {
          const reason = `cgroup ${JSON.stringify(path)} is not container ${id.slice(0, 12)}'s own cgroup`;
          return { identity: unknown(caller, reason, tgid, startTime) };
        }
      }
    }

    // The reuse guard: everything above was read by pid number; the pinned fd says whether that
    // number still names the process that made the request.
    let after: string | undefined;
    try {
      after = readStatFd(statFd).startTime;
    } catch {
      after = undefined;
    }
    if (after !== startTime) {
      return { identity: unknown(caller, `pid ${pid} exited or was reused during resolution`, tgid, startTime) };
    }
    const entry: ProcessEntry = { pid, statFd, startTime, verdict, tgid };
    const identity = identityOf(caller, entry, record);
    // Closed, or a die event dropped the container while we were reading: answer, but don't cache.
    if (closed || (record !== undefined && records.get(record.id) !== record)) return { identity };
    return { identity, entry };
  }

  return {
    pidNamespace,

    async resolve(caller: CallerRef): Promise<Identity> {
      try {
        return await resolveCaller(caller);
      } catch (err) {
        return unknown(caller, `identity resolution failed: ${errorMessage(err)}`);
      }
    },

    startTime(pid: number): string | undefined {
      if (closed || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
      const entry = processes.get(pid);
      try {
        // The pinned fd fails with ESRCH once its process is gone, even if the number is reused.
        return entry !== undefined ? readStatFd(entry.statFd).startTime : readStat(procRoot, pid).startTime;
      } catch {
        return undefined;
      }
    },

    async inspectContainer(idOrName: string): Promise<Identity> {
      const nobody = { pid: 0, tgid: 0, uid: -1, gid: -1 };
      try {
        let container: RuntimeContainer;
        try {
          container = await runtime.inspectContainer(idOrName);
        } catch (err) {
          return { kind: 'unknown', ...nobody, reason: errorMessage(err) };
        }
        if (container.running && container.pid > 0) {
          const loaded = await loadContainer(container.id);
          if ('reason' in loaded) return { kind: 'unknown', ...nobody, containerId: container.id, name: container.name, reason: loaded.reason };
          const { record } = loaded;
          let ids = { uid: -1, gid: -1 };
          try {
            ids = readStatusIds(procRoot, record.initPid);
          } catch {
            // The init just exited; its uid/gid are not essential to an explanation.
          }
          return {
            ...record.base,
            pid: record.initPid,
            tgid: record.initPid,
            uid: ids.uid,
            gid: ids.gid,
            startTime: record.initStartTime,
          };
        }
        let image: RuntimeImage | undefined;
        try {
          image = await loadImage(container.imageId);
        } catch {
          image = undefined; // deleted with -f while the container remains: explain what we can
        }
        return {
          kind: 'container',
          ...nobody,
          containerId: container.id,
          name: container.name,
          imageId: container.imageId,
          imageRef: container.imageRef,
          repoTags: image?.repoTags ?? [],
          repoDigests: image?.repoDigests ?? [],
          imageLabels: image?.labels ?? {},
          runtimeLabels: Object.fromEntries(Object.entries(container.labels).filter(([k, v]) => image?.labels[k] !== v)),
          reason: 'container is not running',
        };
      } catch (err) {
        return { kind: 'unknown', ...nobody, reason: `inspect failed: ${errorMessage(err)}` };
      }
    },

    containers(): readonly ContainerSummary[] {
      return [...records.values()].map((record) => record.summary);
    },

    status(): RuntimeStatus {
      return {
        reachable: eventsLive,
        endpoint: runtime.endpoint,
        ...(lastDisconnect !== undefined ? { reason: lastDisconnect } : {}),
        cached: records.size,
        ...(warnings.length > 0 ? { warnings: [...warnings] } : {}),
      };
    },

    onInvalidate(listener: (containerId: string) => void): void {
      listeners.push(listener);
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      stopWatching();
      if (reverifyTimer !== undefined) clearTimeout(reverifyTimer);
      for (const pid of [...processes.keys()]) forgetProcess(pid);
      processesByContainer.clear();
      records.clear();
      images.clear();
      doubtful.clear();
      await Promise.allSettled([...loading.values(), ...imageLoading.values()]);
    },
  };
}

function errorMessage(err: unknown): string {
  if (err instanceof ProcError || err instanceof RuntimeError || err instanceof Error) return err.message;
  return String(err);
}
