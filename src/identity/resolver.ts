// pid → Identity: the /proc reading and the pid-reuse guard. One function (resolve) is what the
// filesystem layer calls. Callers seen before are pinned by process-pins.ts; what is known about
// each container, kept honest by runtime events, is container-records.ts.
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
import { ContainerRecords, type ContainerRecord } from './container-records.js';
import { errorMessage } from '../shared/error-message.js';
import { ProcessPins, type ProcessPin } from './process-pins.js';
import {
  checkPidNamespace,
  readNamespaces,
  readProcFile,
  readStatFd,
  readStatusIds,
  type HostNamespaces,
  type PidNamespaceCheck,
} from './procfs.js';
import type { ContainerRuntime, RuntimeContainer, RuntimeEvent, RuntimeImage } from './runtime.js';
import type { CallerRef, CgroupVerdict, ContainerSummary, Identity, IdentityResolver, RuntimeStatus } from './types.js';

export interface ResolverCoreOptions {
  readonly runtime: ContainerRuntime;
  readonly procRoot?: string;
  readonly log?: (msg: string) => void;
  /** Bound on cached callers; each holds one open file descriptor. */
  readonly maxCachedProcesses?: number;
  /** Bound on cached images (each a few labels and tags); least recently used go first. */
  readonly maxCachedImages?: number;
}

export interface ResolverWithDiagnostics extends IdentityResolver {
  /** The startup check of pald's pid namespace. */
  readonly pidNamespace: PidNamespaceCheck;
}

export function createResolver(options: ResolverCoreOptions): ResolverWithDiagnostics {
  const runtime = options.runtime;
  const procRoot = options.procRoot ?? '/proc';
  const log = options.log ?? (() => {});

  const pins = new ProcessPins({ procRoot, maxPins: options.maxCachedProcesses ?? 4_096 });
  const records = new ContainerRecords({
    runtime,
    procRoot,
    log,
    maxImages: options.maxCachedImages ?? 512,
    onStale: invalidate,
  });
  const listeners: Array<(containerId: string) => void> = [];

  let lastDisconnect: string | undefined = 'not connected yet';
  let closed = false;

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
      lastDisconnect = undefined;
      records.eventsResumed();
    },
    onDisconnected(reason) {
      lastDisconnect = reason;
      records.eventsLost();
    },
    onEvent: handleEvent,
  });

  function handleEvent(event: RuntimeEvent): void {
    if (event.type === 'container') {
      invalidate(event.id, `docker event ${event.action}`);
      return;
    }
    for (const id of records.imageChanged(event.id)) invalidate(id, `docker image event ${event.action}`);
  }

  /** Drops a container's record and its callers' pins, and tells the listeners. */
  function invalidate(id: string, why: string): void {
    const hadRecord = records.drop(id);
    const hadPins = pins.forgetContainer(id);
    if (!hadRecord && !hadPins) return;
    log(`identity: dropped container ${id.slice(0, 12)} (${why})`);
    for (const listener of listeners) {
      try {
        listener(id);
      } catch (err) {
        log(`identity: invalidation listener failed: ${errorMessage(err)}`);
      }
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

  function unknown(caller: CallerRef, reason: string, tgid = caller.pid, startTime?: string): Identity {
    return { kind: 'unknown', pid: caller.pid, tgid, uid: caller.uid, gid: caller.gid, startTime, reason };
  }

  function identityOf(caller: CallerRef, entry: ProcessPin, record: ContainerRecord | undefined): Identity {
    const ids = { pid: caller.pid, tgid: entry.tgid, uid: caller.uid, gid: caller.gid, startTime: entry.startTime };
    if (record !== undefined) return { ...record.base, ...ids };
    return { kind: 'host', ...ids, reason: "no container id in its cgroups; in pald's pid and mount namespaces" };
  }

  async function resolveCaller(caller: CallerRef): Promise<Identity> {
    if (closed) return unknown(caller, 'identity resolver closed');
    const pid = caller.pid;
    if (!Number.isSafeInteger(pid) || pid <= 0) {
      return unknown(caller, `caller pid ${pid} is not visible in pald's pid namespace`);
    }

    // Fast path: a caller seen before, still alive, in a container whose record is current.
    const cached = pins.current(pid);
    if (cached !== undefined) {
      if (cached.verdict.kind === 'host') return identityOf(caller, cached, undefined);
      if (cached.verdict.kind === 'container') {
        const record = records.get(cached.verdict.containerId);
        if (record !== undefined && records.usable(record)) return identityOf(caller, cached, record);
      }
      pins.forget(pid);
    }

    // First sight: pin the process, read its cgroups, resolve, then check it is still the one pinned.
    const opened = pins.open(pid);
    if ('reason' in opened) return unknown(caller, opened.reason);
    const statFd = opened.fd;
    let kept = false;
    try {
      const result = await resolveFirstSight(caller, statFd);
      if ('entry' in result) {
        pins.keep(result.entry);
        kept = true;
      }
      return result.identity;
    } finally {
      if (!kept) pins.discard(statFd);
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
  ): Promise<{ identity: Identity; entry: ProcessPin } | { identity: Identity }> {
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
      if (record !== undefined && !records.usable(record)) {
        invalidate(id, 'its init process is gone');
        record = undefined;
      }
      if (record === undefined) {
        const loaded = await records.load(id, verdict.runtime);
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
    const entry: ProcessPin = { pid, statFd, startTime, verdict, tgid };
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
      return pins.startTime(pid);
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
          const loaded = await records.load(container.id);
          if ('reason' in loaded)
            return {
              kind: 'unknown',
              ...nobody,
              containerId: container.id,
              name: container.name,
              reason: loaded.reason,
            };
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
          image = await records.image(container.imageId);
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
          runtimeLabels: Object.fromEntries(
            Object.entries(container.labels).filter(([k, v]) => image?.labels[k] !== v),
          ),
          reason: 'container is not running',
        };
      } catch (err) {
        return { kind: 'unknown', ...nobody, reason: `inspect failed: ${errorMessage(err)}` };
      }
    },

    containers(): readonly ContainerSummary[] {
      return records.summaries();
    },

    status(): RuntimeStatus {
      return {
        reachable: records.eventsLive,
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
      pins.clear();
      await records.close();
    },
  };
}
