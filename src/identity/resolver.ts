// pid → Identity: the /proc reading and the pid-reuse guard. One function (resolve) is what the
// filesystem layer calls. Callers seen before are pinned by process-pins.ts; what is known about
// each container, kept honest by runtime events, is container-records.ts; where "host" ends is
// host-scope.ts; `pal explain`'s lookup by container name is container-inspect.ts.
//
// Security shape of a resolution:
//   1. pin the process (pin-guards.ts) and read /proc/<pid>/stat: start time S (a pid alone never identifies a process)
//   2. cgroup verdict for (pid, S): cached, or read from /proc/<pid>/cgroup
//   3. container record: cached (dropped on die/destroy/rename; loaded early on a start event), or inspected
//   4. the caller's container cgroup path must be the container's own (its init's)
//   5. no container named: host only in pald's own pid and mount namespaces, else unknown
//   6. if anything was read or awaited, check the pin still holds the process with S: not → deny
// Every failure is kind 'unknown' with a reason; nothing throws to the caller.
// size: over 350 lines because the steps above, their caches and the runtime's events meet in this one class;
// each part it asks is a unit of its own (process-pins, container-records, host-scope, pre-attribution, started-init).

import { errorMessage } from '../shared/error-message.js';
import { CgroupVerdictMemo } from './cgroup.js';
import { inspectContainerIdentity } from './container-inspect.js';
import { ContainerRecords, type ContainerRecord } from './container-records.js';
import { HostScope } from './host-scope.js';
import { PreAttribution } from './pre-attribution.js';
import type { PinGuard, PinnedProcess } from './pin-guards.js';
import { ProcessPins, type ProcessPin } from './process-pins.js';
import { readProcFile, readStatusIds, type PidNamespaceCheck } from './procfs.js';
import type { ContainerRuntime, RuntimeEvent } from './runtime.js';
import { startedInit } from './started-init.js';
import type {
  CallerRef,
  CgroupVerdict,
  ContainerSummary,
  Identity,
  IdentityResolver,
  RuntimeStatus,
  StartedContainer,
} from './types.js';

export interface ResolverCoreOptions {
  readonly runtime: ContainerRuntime;
  readonly procRoot?: string;
  readonly log?: (msg: string) => void;
  /** Bound on cached callers; each holds one open file descriptor. */
  readonly maxCachedProcesses?: number;
  /** How cached callers are pinned (pin-guards.ts choosePinGuard); stat fds under procRoot when not given. */
  readonly pinGuard?: PinGuard;
  /** Bound on cached images (each a few labels and tags); least recently used go first. */
  readonly maxCachedImages?: number;
}

export interface ResolverWithDiagnostics extends IdentityResolver {
  /** The startup check of pald's pid namespace. */
  readonly pidNamespace: PidNamespaceCheck;
}

export function createResolver(options: ResolverCoreOptions): ResolverWithDiagnostics {
  return new Resolver(options);
}

/** What steps 1–2 read of a process seen for the first time. */
interface FirstRead {
  readonly startTime: string;
  readonly verdict: CgroupVerdict;
  readonly tgid: number;
  readonly cgroupText: string;
}

type FirstSight = { readonly identity: Identity; readonly entry?: ProcessPin };

interface LastAnswer {
  readonly record: ContainerRecord | undefined;
  readonly uid: number;
  readonly gid: number;
  readonly identity: Identity;
}

class Resolver implements ResolverWithDiagnostics {
  readonly pidNamespace: PidNamespaceCheck;
  private readonly runtime: ContainerRuntime;
  private readonly procRoot: string;
  private readonly log: (msg: string) => void;
  private readonly pins: ProcessPins;
  private readonly records: ContainerRecords;
  private readonly hostScope: HostScope;
  private readonly preAttribution: PreAttribution;
  private readonly cgroups = new CgroupVerdictMemo();
  private readonly listeners: Array<(containerId: string) => void> = [];
  private readonly startListeners: Array<(init: StartedContainer) => void> = [];
  /** Per pinned process, the Identity last answered (a forgotten pin takes its entry with it). */
  private readonly lastAnswers = new WeakMap<ProcessPin, LastAnswer>();
  private readonly stopWatching: () => void;
  private lastDisconnect: string | undefined = 'not connected yet';
  private closed = false;

  constructor(options: ResolverCoreOptions) {
    this.runtime = options.runtime;
    this.procRoot = options.procRoot ?? '/proc';
    this.log = options.log ?? (() => {});
    this.pins = new ProcessPins({
      procRoot: this.procRoot,
      maxPins: options.maxCachedProcesses ?? 4_096,
      ...(options.pinGuard !== undefined ? { guard: options.pinGuard } : {}),
    });
    this.records = new ContainerRecords({
      runtime: this.runtime,
      procRoot: this.procRoot,
      log: this.log,
      maxImages: options.maxCachedImages ?? 512,
      onStale: (id, why) => this.invalidate(id, why),
    });
    this.hostScope = new HostScope(this.procRoot, this.log);
    this.preAttribution = new PreAttribution({
      records: this.records,
      current: (record) => this.records.initAlive(record),
      drop: (id) => this.invalidate(id, 'started again'),
      attributed: (record) => this.started(record),
    });
    this.pidNamespace = this.hostScope.pidNamespace;
    this.stopWatching = this.runtime.watch({
      onConnected: () => {
        this.lastDisconnect = undefined;
        this.records.eventsResumed();
      },
      onDisconnected: (reason) => {
        this.lastDisconnect = reason;
        this.records.eventsLost();
      },
      onEvent: (event) => this.handleEvent(event),
    });
  }

  resolve(caller: CallerRef): Promise<Identity> {
    // A caller seen before is answered without entering an async function (one pin check + lookups).
    let cached: Identity | undefined;
    try {
      cached = this.cachedIdentity(caller);
    } catch (err) {
      return Promise.resolve(unknown(caller, `identity resolution failed: ${errorMessage(err)}`));
    }
    return cached !== undefined ? Promise.resolve(cached) : this.resolveUncached(caller);
  }

  pinnedStartTime(pid: number): string | undefined {
    if (this.closed || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
    return this.pins.pinnedStartTime(pid);
  }

  containerCgroup(pid: number, startTime: string): string | undefined {
    if (this.closed || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
    return this.pins.containerCgroup(pid, startTime);
  }

  inspectContainer(idOrName: string): Promise<Identity> {
    return inspectContainerIdentity(
      { runtime: this.runtime, records: this.records, procRoot: this.procRoot },
      idOrName,
    );
  }

  containers(): readonly ContainerSummary[] {
    return this.records.summaries();
  }

  status(): RuntimeStatus {
    const warnings = this.hostScope.warnings;
    return {
      reachable: this.records.eventsLive,
      endpoint: this.runtime.endpoint,
      ...(this.lastDisconnect !== undefined ? { reason: this.lastDisconnect } : {}),
      cached: this.records.size,
      ...(warnings.length > 0 ? { warnings: [...warnings] } : {}),
    };
  }

  onInvalidate(listener: (containerId: string) => void): void {
    this.listeners.push(listener);
  }

  onStarted(listener: (init: StartedContainer) => void): void {
    this.startListeners.push(listener);
  }

  private started(record: ContainerRecord): void {
    const init = this.startListeners.length > 0 ? startedInit(this.procRoot, record) : undefined;
    if (init) for (const listener of this.startListeners) listener(init);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopWatching();
    this.pins.clear();
    await Promise.all([this.preAttribution.close(), this.records.close()]);
  }

  private handleEvent(event: RuntimeEvent): void {
    if (event.type === 'container' && event.action === 'start') {
      this.preAttribution.started(event.id);
      return;
    }
    if (event.type === 'container') {
      this.invalidate(event.id, `docker event ${event.action}`);
      return;
    }
    for (const id of this.records.imageChanged(event.id)) this.invalidate(id, `docker image event ${event.action}`);
  }

  /** Drops a container's record and its callers' pins, and tells the listeners. */
  private invalidate(id: string, why: string): void {
    const hadRecord = this.records.drop(id);
    const hadPins = this.pins.forgetContainer(id);
    if (!hadRecord && !hadPins) return;
    this.log(`identity: dropped container ${id.slice(0, 12)} (${why})`);
    for (const listener of this.listeners) {
      try {
        listener(id);
      } catch (err) {
        this.log(`identity: invalidation listener failed: ${errorMessage(err)}`);
      }
    }
  }

  private async resolveUncached(caller: CallerRef): Promise<Identity> {
    try {
      return await this.resolveCaller(caller);
    } catch (err) {
      return unknown(caller, `identity resolution failed: ${errorMessage(err)}`);
    }
  }

  /**
   * Fast path: a caller seen before, still the process pinned (the pread of its stat fd), in a
   * container whose record is current. Undefined when it must be resolved afresh (a pin found
   * unusable is forgotten here).
   */
  private cachedIdentity(caller: CallerRef): Identity | undefined {
    const pid = caller.pid;
    if (this.closed || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
    const cached = this.pins.current(pid);
    if (cached === undefined) return undefined;
    if (cached.verdict.kind === 'host') return this.answerFor(caller, cached, undefined);
    if (cached.verdict.kind === 'container') {
      const record = this.records.get(cached.verdict.containerId);
      if (record !== undefined && this.records.usable(record)) return this.answerFor(caller, cached, record);
    }
    this.pins.forget(pid);
    return undefined;
  }

  /** The pin's last answer when it is for the same record and ids (building one costs more than the lookups). */
  private answerFor(caller: CallerRef, pin: ProcessPin, record: ContainerRecord | undefined): Identity {
    const last = this.lastAnswers.get(pin);
    if (last !== undefined && last.record === record && last.uid === caller.uid && last.gid === caller.gid) {
      return last.identity;
    }
    const identity = Object.freeze(identityOf(caller, pin, record));
    this.lastAnswers.set(pin, { record, uid: caller.uid, gid: caller.gid, identity });
    return identity;
  }

  private async resolveCaller(caller: CallerRef): Promise<Identity> {
    if (this.closed) return unknown(caller, 'identity resolver closed');
    const pid = caller.pid;
    if (!Number.isSafeInteger(pid) || pid <= 0) {
      return unknown(caller, `caller pid ${pid} is not visible in pald's pid namespace`);
    }

    // First sight (resolve() tried the pinned callers already): pin the process, read its cgroups, resolve, then check it is still the one pinned.
    const opened = this.pins.open(pid);
    if ('reason' in opened) return unknown(caller, opened.reason);
    let kept = false;
    try {
      const result = await this.resolveFirstSight(caller, opened);
      if (result.entry !== undefined) {
        this.pins.keep(result.entry);
        kept = true;
      }
      return result.identity;
    } finally {
      if (!kept) this.pins.discard(opened.hold);
    }
  }

  /** Steps 1–6 for a process not pinned yet; `entry` is set when the answer may be cached. */
  private async resolveFirstSight(caller: CallerRef, pinned: PinnedProcess): Promise<FirstSight> {
    const pid = caller.pid;
    const hold = pinned.hold;
    const read = this.readProcess(caller, pinned);
    if ('identity' in read) return read;
    const { startTime, verdict, tgid, cgroupText } = read;
    const denied = (reason: string): FirstSight => ({ identity: unknown(caller, reason, tgid, startTime) });
    // Not cached when unknown: a process being moved between cgroups (e.g. `docker exec` starting) settles soon.
    if (verdict.kind === 'unknown') return denied(verdict.reason);
    if (verdict.kind === 'host') {
      const outside = this.hostScope.outside(pid);
      if (outside !== undefined) return denied(outside);
    }

    let record: ContainerRecord | undefined;
    if (verdict.kind === 'container') {
      const found = await this.containerOf(verdict);
      if ('reason' in found) return denied(found.reason);
      record = found.record;
    }

    // The reuse guard: everything above was read by pid number; the pin says whether that number
    // still names the process that made the request.
    if (!this.pins.holds(hold, startTime)) return denied(`pid ${pid} exited or was reused during resolution`);
    const text = verdict.kind === 'container' ? { cgroupText } : {}; // what the warm path adopts by
    const entry: ProcessPin = { pid, hold, startTime, verdict, tgid, ...text };
    const identity = identityOf(caller, entry, record);
    // Closed, or a die event dropped the container while we were reading: answer, but don't cache.
    if (this.closed || (record !== undefined && this.records.get(record.id) !== record)) return { identity };
    return { identity, entry };
  }

  /** Steps 1–2: start time (read while pinned), cgroup verdict and thread group of the pinned process. */
  private readProcess(caller: CallerRef, { stat, tgid, cgroup }: PinnedProcess): FirstRead | FirstSight {
    const pid = caller.pid;
    if (stat.state === 'Z' || stat.state === 'X') return { identity: unknown(caller, `process ${pid} has exited`) };
    try {
      // The one-call pidfd pin read the cgroups already, before its alive check.
      const cgroupText = cgroup ?? readProcFile(this.procRoot, pid, 'cgroup');
      return {
        startTime: stat.startTime,
        cgroupText,
        verdict: this.cgroups.verdict(cgroupText),
        // The pidfd tells its thread group itself where the kernel can (Linux 6.13+): one read less.
        tgid: tgid ?? readStatusIds(this.procRoot, pid).tgid,
      };
    } catch (err) {
      return { identity: unknown(caller, `cannot read process ${pid}: ${errorMessage(err)}`) };
    }
  }

  /** Steps 3–4: the container's record (cached or inspected), and the caller must be in its own cgroup. */
  private async containerOf(
    verdict: Extract<CgroupVerdict, { kind: 'container' }>,
  ): Promise<{ readonly record: ContainerRecord } | { readonly reason: string }> {
    const id = verdict.containerId;
    let record = this.records.get(id);
    if (record !== undefined && !this.records.usable(record)) {
      this.invalidate(id, 'its init process is gone');
      record = undefined;
    }
    if (record === undefined) {
      const loaded = await this.records.load(id, verdict.runtime);
      if ('reason' in loaded) return loaded;
      record = loaded.record;
    }
    for (const path of verdict.paths) {
      if (!record.paths.has(path)) {
        return { reason: `cgroup ${JSON.stringify(path)} is not container ${id.slice(0, 12)}'s own cgroup` };
      }
    }
    return { record };
  }
}

function unknown(caller: CallerRef, reason: string, tgid = caller.pid, startTime?: string): Identity {
  const ids = { pid: caller.pid, tgid, uid: caller.uid, gid: caller.gid };
  return { kind: 'unknown', ...ids, ...(startTime === undefined ? {} : { startTime }), reason };
}

function identityOf(caller: CallerRef, entry: ProcessPin, record: ContainerRecord | undefined): Identity {
  const ids = { pid: caller.pid, tgid: entry.tgid, uid: caller.uid, gid: caller.gid, startTime: entry.startTime };
  if (record !== undefined) return { ...record.base, ...ids };
  return { kind: 'host', ...ids, reason: "no container id in its cgroups; in pald's pid and mount namespaces" };
}
