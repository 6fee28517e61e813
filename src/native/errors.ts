// Errno values and the one error type that answers a FUSE request with an errno: handlers in
// native/ callers and in fs/ (the per-caller view, the handle ledger) all throw FuseError.
import { constants } from 'node:os';

const sys = constants.errno;

/** The errnos a filesystem handler typically answers with (Linux values). */
export const Errno = Object.freeze({
  EPERM: sys.EPERM,
  ENOENT: sys.ENOENT,
  EIO: sys.EIO,
  EBADF: sys.EBADF,
  EAGAIN: sys.EAGAIN,
  ENOMEM: sys.ENOMEM,
  ENFILE: sys.ENFILE,
  EACCES: sys.EACCES,
  EBUSY: sys.EBUSY,
  EEXIST: sys.EEXIST,
  ENOTDIR: sys.ENOTDIR,
  EISDIR: sys.EISDIR,
  EINVAL: sys.EINVAL,
  ENOSPC: sys.ENOSPC,
  EROFS: sys.EROFS,
  ENAMETOOLONG: sys.ENAMETOOLONG,
  ENOSYS: sys.ENOSYS,
  ENOTEMPTY: sys.ENOTEMPTY,
  ENODATA: sys.ENODATA,
  ETIMEDOUT: sys.ETIMEDOUT,
  ENOTCONN: sys.ENOTCONN,
});

export type ErrnoName = keyof typeof Errno;

/** Throw from a handler to answer the request with `errno`. */
export class FuseError extends Error {
  readonly errno: number;
  constructor(errno: number, message?: string) {
    super(message ?? `FUSE error ${errnoName(errno) ?? errno}`);
    this.name = 'FuseError';
    this.errno = errno;
  }
}

export function errnoName(errno: number): string | undefined {
  for (const [name, value] of Object.entries(sys)) if (value === errno) return name;
  return undefined;
}

/**
 * The errno to answer for whatever a handler threw: a FuseError's errno, a Node system error's
 * (whose errno is negative, with a `code` like 'ENOENT'), otherwise EIO.
 */
export function errnoOf(err: unknown): number {
  return explicitErrno(err) ?? Errno.EIO;
}

/** The errno `err` names itself (errno property or errno code), if any. */
export function explicitErrno(err: unknown): number | undefined {
  if (err !== null && typeof err === 'object') {
    const { errno, code } = err as { errno?: unknown; code?: unknown };
    if (typeof errno === 'number' && Number.isInteger(errno) && errno !== 0 && Math.abs(errno) < 4096) {
      return Math.abs(errno);
    }
    if (typeof code === 'string' && Object.hasOwn(sys, code)) return sys[code as keyof typeof sys];
  }
  return undefined;
}
