// mount(): a FUSE session whose requests are answered by FuseHandlers. The addon calls
// `dispatch` on the JS thread for each request; we run the handler and reply whenever its
// result settles, so one slow caller never holds up the others.
import { isAbsolute, resolve } from 'node:path';

import { binding, Op, type Dispatch, type MountHandle, type RequestHandle } from './binding.js';
import { errorMessage } from '../shared/error-message.js';
import { Errno, explicitErrno } from './errors.js';
import { handleOf } from './secure-buffer.js';
import type {
  CallerContext,
  FastPath,
  FastPathEvent,
  FuseHandlers,
  FuseMount,
  HandoverState,
  MountOptions,
  OpenReply,
} from './types.js';

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

const opNames: Record<number, string> = Object.fromEntries(Object.entries(Op).map(([k, v]) => [v, k]));

function defaultOnError(err: unknown, op: string): void {
  const name = err instanceof Error ? `${err.name}: ` : '';
  process.stderr.write(`pal native: ${op} handler failed: ${name}${errorMessage(err)}\n`);
}

function isThenable<T>(v: T | Promise<T>): v is Promise<T> {
  return v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';
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

function fastEventOf(
  op: number,
  ctx: CallerContext,
  ino: number,
  fh: number,
  lease: number,
  arg: number,
): FastPathEvent {
  if (op === Op.fastOpened) return { kind: 'opened', ctx, ino, fh, lease, latencyUs: arg };
  if (op === Op.fastReleased) return { kind: 'released', ino, fh, lease, returned: arg !== 0 };
  return { kind: 'retired' };
}

function makeDispatch(handlers: FuseHandlers, onError: (err: unknown, op: string) => void): Dispatch {
  // onError must never keep a request from being answered.
  const report = (err: unknown, op: string): void => {
    try {
      onError(err, op);
    } catch {
      // nothing better to do with an error about an error
    }
  };
  // Answers `req` with the handler's value (through `ok`) or its error's errno.
  function settle<T>(req: RequestHandle, op: number, run: () => T | Promise<T>, ok: (v: T) => void): void {
    const fail = (err: unknown): void => {
      const errno = explicitErrno(err);
      if (errno === undefined) report(err, opNames[op] ?? String(op)); // not an answer: a failure
      try {
        binding.replyErr(req, errno ?? Errno.EIO);
      } catch {
        // already answered: nothing left to tell the kernel
      }
    };
    const deliver = (v: T): void => {
      try {
        ok(v);
      } catch (err) {
        fail(err); // a malformed reply (bad attr, wrong type): the caller gets EIO
      }
    };
    let v: T | Promise<T>;
    try {
      v = run();
    } catch (err) {
      fail(err);
      return;
    }
    if (isThenable(v)) v.then(deliver, fail);
    else deliver(v);
  }

  return (op, req, pid, uid, gid, ino, a, b, c) => {
    const ctx: CallerContext = { pid, uid, gid };
    if (op >= Op.fastOpened) {
      try {
        handlers.fastEvent?.(fastEventOf(op, ctx, ino, a as number, b as number, c as number));
      } catch (err) {
        report(err, 'fastEvent');
      }
      return;
    }
    if (op === Op.release) {
      try {
        const r = handlers.release(ctx, ino, a as number);
        if (isThenable(r)) r.then(undefined, (err: unknown) => report(err, 'release'));
      } catch (err) {
        report(err, 'release');
      }
      return;
    }
    if (req === null) return;
    switch (op) {
      case Op.lookup:
        return settle(
          req,
          op,
          () => handlers.lookup(ctx, ino, a as string),
          (e) =>
            binding.replyEntry(
              req,
              e.attr.ino,
              e.attr.mode,
              e.attr.nlink,
              e.attr.uid,
              e.attr.gid,
              e.attr.size,
              e.attr.mtimeMs,
              e.entryTimeout,
              e.attrTimeout,
            ),
        );
      case Op.getattr:
        return settle(
          req,
          op,
          () => handlers.getattr(ctx, ino),
          (r) =>
            binding.replyAttr(
              req,
              r.attr.ino,
              r.attr.mode,
              r.attr.nlink,
              r.attr.uid,
              r.attr.gid,
              r.attr.size,
              r.attr.mtimeMs,
              r.attrTimeout,
            ),
        );
      case Op.readdir:
        return settle(
          req,
          op,
          () => handlers.readdir(ctx, ino),
          (entries) => {
            const names: string[] = [];
            const inos: number[] = [];
            const modes: number[] = [];
            for (const e of entries) {
              names.push(e.name);
              inos.push(e.attr.ino);
              modes.push(e.attr.mode);
            }
            binding.replyDir(req, names, inos, modes);
          },
        );
      case Op.open:
        return settle(
          req,
          op,
          () => handlers.open(ctx, ino, a as number),
          (r: OpenReply) => {
            const content =
              r.content === undefined ? null : r.content instanceof Uint8Array ? r.content : handleOf(r.content);
            const releaseOurselves = (): void =>
              void Promise.resolve(handlers.release(ctx, ino, r.fh)).catch((err) => report(err, 'release'));
            let delivered: boolean;
            try {
              delivered = binding.replyOpen(req, r.fh, r.directIo, r.keepCache, content);
            } catch (err) {
              releaseOurselves(); // refused (bad content): no file handle, so no release will come
              throw err;
            }
            // The open was interrupted: the kernel will never release this handle, so we do.
            if (!delivered) releaseOurselves();
          },
        );
      case Op.read:
        return settle(
          req,
          op,
          () => handlers.read(ctx, ino, a as number, b as number, c as number),
          (buf) => binding.replyBuf(req, buf),
        );
      case Op.statfs:
        return settle(
          req,
          op,
          () => (handlers.statfs ? handlers.statfs(ctx, ino) : { blocks: 0, files: 0, nameMax: 255 }),
          (s) => binding.replyStatfs(req, s.blocks, s.files, s.nameMax),
        );
      default:
        binding.replyErr(req, Errno.ENOSYS);
    }
  };
}

class NativeFuseMount implements FuseMount {
  #unmounting: Promise<void> | undefined;
  readonly fastPath: FastPath;

  constructor(
    readonly mountpoint: string,
    private readonly handle: MountHandle,
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
      lease: (generation, c, ino, leaseId, content, fhs) =>
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
        ),
      retireLeases: () => binding.fastPathRetireLeases(handle),
      expire: () => binding.fastPathExpire(handle),
      takeRetired: () => binding.fastPathTakeRetired(handle),
      stats: () => binding.fastPathStats(handle),
    };
  }

  unmount(): Promise<void> {
    this.#unmounting ??= binding.unmount(this.handle);
    return this.#unmounting;
  }

  release(): Promise<void> {
    this.#unmounting ??= binding.release(this.handle);
    return this.#unmounting;
  }

  park(): void {
    binding.park(this.handle);
  }

  handoverState(): HandoverState {
    return binding.handoverState(this.handle);
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
  const handle = binding.mount(
    path,
    mountOptionString(options),
    threads,
    makeDispatch(handlers, options.onError ?? defaultOnError),
    generation,
    options.takeover ? { fd: options.takeover.fd, init: options.takeover.init } : null,
  );
  return new NativeFuseMount(path, handle);
}

/** Lazily unmounts dead FUSE mounts (ENOTCONN) at `mountpoint`; returns how many. mount() does this itself. */
export function clearStaleMount(mountpoint: string): number {
  return binding.clearStaleMount(resolve(mountpoint));
}
