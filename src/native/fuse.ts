// mount(): a FUSE session whose requests are answered by FuseHandlers. The addon calls
// `dispatch` (dispatch.ts) on the JS thread for each request; it runs the handler and replies
// whenever its result settles, so one slow caller never holds up the others.
import { isAbsolute, resolve } from 'node:path';

import { binding, type MountHandle } from './binding.js';
import { deliverFastEvents, makeDispatch, safeReport } from './dispatch.js';
import { errorMessage } from '../shared/error-message.js';
import { handleOf } from './secure-buffer.js';
import type { FastPath, FuseHandlers, FuseMount, HandoverState, MountOptions, PassthroughStats } from './types.js';

export interface NativeMountOptions extends MountOptions {
  /**
   * Called when a handler throws something without an errno (answered EIO), when a reply is
   * malformed, or when release fails. Default: print the error's name and message to stderr.
   */
  readonly onError?: (err: unknown, op: string) => void;
}

const ALWAYS = ['ro', 'nosuid', 'nodev', 'noexec'];

/**
 * 0: the JS thread reads requests from /dev/fuse itself (a uv_poll on the event loop), so a
 * request that needs a handler reaches it without a thread hop; on the 2-core test VM that
 * roughly halves the cost of an open+read+close and brings it to the C floor's (see
 * native/README.md). N > 0: N worker threads read requests and hand the ones that need JS over
 * a threadsafe function; reads of handles opened with `content` then keep being served while
 * the JS thread is busy.
 */
export const DEFAULT_THREADS = 0;
// A -o option: no commas (the separator) and nothing that needs quoting.
const OPTION = /^[A-Za-z0-9_.:/@+-]+(=[A-Za-z0-9_.:/@+-]*)?$/;

function defaultOnError(err: unknown, op: string): void {
  const name = err instanceof Error ? `${err.name}: ` : '';
  process.stderr.write(`pal native: ${op} handler failed: ${name}${errorMessage(err)}\n`);
}

/** Builds the -o list: pal's fixed safety options plus fsname and the caller's extras. */
export function mountOptionString(options: MountOptions = {}): string {
  const fsname = options.fsname ?? 'pal';
  const extra = options.extraOptions ?? [];
  for (const o of [`fsname=${fsname}`, ...extra]) {
    if (!OPTION.test(o)) throw new TypeError(`invalid FUSE mount option ${JSON.stringify(o)}`);
  }
  return [...ALWAYS, `fsname=${fsname}`, 'subtype=pal', ...extra].join(',');
}

class NativeFuseMount implements FuseMount {
  #unmounting: Promise<void> | undefined;
  readonly fastPath: FastPath;

  constructor(
    readonly mountpoint: string,
    private readonly handle: MountHandle,
    /** Hands the warm path's queued events to the handlers. */
    private readonly drainEvents: () => void,
  ) {
    this.fastPath = {
      enable: (on) => binding.fastPathEnable(handle, on),
      setGeneration: (generation) => binding.fastPathGeneration(handle, generation),
      remember: (generation, c, name, a) =>
        binding.fastPathRemember(
          handle,
          generation,
          c.pid,
          c.uid,
          c.gid,
          c.startTime,
          c.remainingMs,
          name,
          a.ino,
          a.mode,
          a.nlink,
          a.uid,
          a.gid,
          a.size,
          a.mtimeMs,
        ),
      lease: (generation, c, ino, leaseId, content, fhs, auditTail) =>
        binding.fastPathLease(
          handle,
          generation,
          c.pid,
          c.uid,
          c.gid,
          c.startTime,
          c.remainingMs,
          ino,
          leaseId,
          handleOf(content),
          [...fhs],
          auditTail ?? null,
        ),
      retireLeases: () => binding.fastPathRetireLeases(handle),
      expire: () => binding.fastPathExpire(handle),
      takeRetired: () => binding.fastPathTakeRetired(handle),
      takeUsed: (generation, c) => binding.fastPathTakeUsed(handle, generation, c.pid, c.uid, c.gid, c.startTime),
      extend: (generation, c) =>
        binding.fastPathExtend(handle, generation, c.pid, c.uid, c.gid, c.startTime, c.remainingMs),
      vouch: (generation, c, cgroup) =>
        binding.fastPathVouch(handle, generation, c.pid, c.uid, c.gid, c.startTime, c.remainingMs, cgroup),
      drain: () => drainEvents(),
      setBatching: (delayMs, atOnce) => binding.fastPathBatching(handle, delayMs, atOnce),
      stats: () => binding.fastPathStats(handle),
    };
  }

  // Once the session stopped, nothing more is queued: JS hears of the last opens and closes the
  // addon answered (their audit lines) before the promise resolves.
  unmount(): Promise<void> {
    this.#unmounting ??= binding.unmount(this.handle).then(this.drainEvents);
    return this.#unmounting;
  }

  release(): Promise<void> {
    this.#unmounting ??= binding.release(this.handle).then(this.drainEvents);
    return this.#unmounting;
  }

  park(): void {
    binding.park(this.handle);
  }

  handoverState(): HandoverState {
    return binding.handoverState(this.handle);
  }

  passthroughStats(): PassthroughStats {
    return binding.passthroughStats(this.handle);
  }

  invalidateEntry(parent: number, name: string): void {
    binding.invalidateEntry(this.handle, parent, name);
  }

  invalidateInode(ino: number): void {
    binding.invalidateInode(this.handle, ino);
  }
}

/**
 * Mounts a read-only FUSE filesystem at `mountpoint` (ro,nosuid,nodev,noexec, fsname "pal" by
 * default; never default_permissions: handlers decide per caller). A stale mount left by a dead
 * daemon is cleared first. The mount keeps the event loop alive until unmount().
 *
 * `options.threads`: see DEFAULT_THREADS (0: requests are read on the JS thread's event loop;
 * N: N worker threads). Either way handlers answer asynchronously and a slow answer for one
 * caller never holds up another.
 *
 * Never touch the mount with synchronous fs calls from this thread: the request would wait for
 * the very thread that is blocked on it.
 */
export async function mount(
  mountpoint: string,
  handlers: FuseHandlers,
  options: NativeMountOptions = {},
): Promise<FuseMount> {
  if (!isAbsolute(mountpoint)) throw new TypeError(`mountpoint must be an absolute path: ${mountpoint}`);
  const path = resolve(mountpoint);
  const threads = options.threads ?? DEFAULT_THREADS;
  if (!Number.isInteger(threads) || threads < 0 || threads > 64)
    throw new RangeError('threads must be an integer 0..64');
  const generation = options.generation ?? 1;
  if (!Number.isInteger(generation) || generation < 1 || generation > 0xffff)
    throw new RangeError('generation must be an integer 1..65535');
  const onError = options.onError ?? defaultOnError;
  const handle = binding.mount(
    path,
    mountOptionString(options),
    threads,
    makeDispatch(handlers, onError),
    generation,
    options.takeover ? { fd: options.takeover.fd, init: options.takeover.init } : null,
    options.passthrough ?? false,
  );
  const report = safeReport(onError);
  return new NativeFuseMount(path, handle, () => {
    const taken = binding.fastPathTakeEvents(handle);
    if (taken) deliverFastEvents(handlers, report, taken[0], taken[1]);
  });
}

/** Lazily unmounts dead FUSE mounts (ENOTCONN) at `mountpoint`; returns how many. mount() does this itself. */
export function clearStaleMount(mountpoint: string): number {
  return binding.clearStaleMount(resolve(mountpoint));
}
