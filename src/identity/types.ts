// The one value the filesystem layer gets for each caller.

import type { PodRef } from './runtime.js';
export type { PodRef } from './runtime.js';

export type IdentityKind = 'container' | 'host' | 'unknown';

export interface Identity {
  readonly kind: IdentityKind;
  /** Thread id the kernel reported. */
  readonly pid: number;
  /** Thread group id (process id) of that thread. */
  readonly tgid: number;
  readonly uid: number;
  readonly gid: number;
  /** /proc/<pid>/stat field 22 at the time the request arrived. */
  readonly startTime?: string;
  readonly containerId?: string;
  /** Container name without the leading slash. */
  readonly name?: string;
  /** sha256:<64 hex> of the image config. */
  readonly imageId?: string;
  /** The image reference the container was created from (Config.Image). */
  readonly imageRef?: string;
  readonly repoTags?: readonly string[];
  readonly repoDigests?: readonly string[];
  /** Labels in the image config (covered by the image id). */
  readonly imageLabels?: Readonly<Record<string, string>>;
  /** Labels set at `docker run --label`: never a source of trust. */
  readonly runtimeLabels?: Readonly<Record<string, string>>;
  /** Which runtime knows the container (docker, containerd, cri-o, …); absent means docker. */
  readonly runtime?: string;
  /** On Kubernetes nodes: the pod (namespace, name, uid) and the container's name in it. */
  readonly pod?: PodRef;
  /** Why the caller is unknown (or how a host caller was recognised). */
  readonly reason?: string;
}

/** A container's init as the kernel names its requests (started-init.ts). */
export interface StartedContainer extends CallerRef {
  readonly containerId: string;
}

export interface CallerRef {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

export interface ContainerSummary {
  readonly containerId: string;
  readonly name: string;
  readonly imageId: string;
  readonly imageRef: string;
  readonly runtime?: string;
  readonly pod?: PodRef;
}

export interface RuntimeStatus {
  readonly reachable: boolean;
  readonly endpoint: string;
  readonly reason?: string;
  /** Containers currently cached. */
  readonly cached: number;
  /** Standing problems found at startup, e.g. pald outside the host pid namespace. */
  readonly warnings?: readonly string[];
}

export interface IdentityResolver {
  /** Never throws: failures come back as kind 'unknown' with a reason. */
  resolve(caller: CallerRef): Promise<Identity>;
  /**
   * Start time (/proc/<pid>/stat field 22) of the process holding `pid`, only while the resolver
   * has it pinned (a caller it answered and still keeps): one pin check, never a read by number.
   * Undefined for a process not pinned (yet, or any more: exited, pid reused, pin evicted).
   */
  pinnedStartTime(pid: number): string | undefined;
  /**
   * The /proc/<pid>/cgroup text a pinned process was attributed to a container by, while its pin
   * still holds the process that had `startTime` (read while pinned, with the start time). Undefined
   * for a process not pinned, another process, or one not in a container. Any process with the
   * same text resolves to the same container (the warm path adopts by it: fast_path.h).
   */
  containerCgroup(pid: number, startTime: string): string | undefined;
  /** Identity of a container by id or name, for `pal explain` (no pid involved). */
  inspectContainer(idOrName: string): Promise<Identity>;
  /** Containers seen (cached), for `pal containers`. */
  containers(): readonly ContainerSummary[];
  status(): RuntimeStatus;
  /** Called with a container id whenever its cached identity is dropped (die/destroy/rename). */
  onInvalidate(listener: (containerId: string) => void): void;
  /**
   * Called once a container was attributed at its start event (pre-attribution), with its init as
   * a caller (started-init.ts): a hint, like the event, that its first open is near.
   */
  onStarted?(listener: (init: StartedContainer) => void): void;
  close(): Promise<void>;
}

/** Which runtime's cgroup naming a container id was found in (a hint for logs and `pal explain`). */
export type ContainerRuntimeHint = 'docker' | 'containerd' | 'cri-o' | 'podman' | 'kubernetes' | 'unknown';

/** What /proc/<pid>/cgroup alone says about a process. */
export type CgroupVerdict =
  | {
      readonly kind: 'container';
      readonly containerId: string;
      readonly runtime: ContainerRuntimeHint;
      /** Each distinct cgroup path cut just after the segment that named the id (for consistency checks). */
      readonly paths: readonly string[];
    }
  | { readonly kind: 'host' }
  | { readonly kind: 'unknown'; readonly reason: string };

/**
 * Pidfds, from the native addon (src/native's `pidfds`), for pinning cached callers. Given to
 * createIdentityResolver by the daemon: src/identity does not load the addon itself (`pald
 * --check-config` reaches it without FUSE).
 */
export interface PidfdOps {
  /** pidfd_open for the thread `tid`; throws an error with a numeric `errno` (ESRCH: no such thread). */
  open(tid: number): number;
  /** true while its thread lives, false once it is gone (ESRCH); throws when it cannot tell. */
  alive(fd: number): boolean;
  /**
   * Thread group id of its thread, asked of the pidfd itself (no /proc read); 0 where the kernel cannot
   * tell (then /proc/<pid>/status is read). Throws once its thread is gone. Optional: older addons lack it.
   */
  tgid?(fd: number): number;
  /**
   * open, the reads of /proc/<tid>/stat and cgroup, tgid and alive (after the reads) in one call: a new
   * caller's first sight in one native hop. Throws an error with a numeric `errno` and the `step` that
   * failed ('open' | 'stat' | 'cgroup' | 'tgid' | 'alive'), its pidfd closed. Optional: older addons lack it.
   */
  pinRead?(tid: number): PidfdPinRead;
  close(fd: number): void;
}

/** What PidfdOps.pinRead read while its pidfd held the thread (latin1 text, as procfs.ts reads it). */
export interface PidfdPinRead {
  readonly fd: number;
  readonly stat: string;
  readonly cgroup: string;
  /** 0 where the kernel cannot tell. */
  readonly tgid: number;
}
