// The native addon's only door: FUSE sessions with caller context, secure memory, SO_PEERCRED.
import { binding } from './binding.js';
import type { NativePidfds, PeerCredentials } from './types.js';

export type * from './types.js';
export { Errno, FuseError, errnoOf, explicitErrno, errnoName, type ErrnoName } from './errors.js';
export { mount, clearStaleMount, mountOptionString, DEFAULT_THREADS, type NativeMountOptions } from './fuse.js';
export { allocSecureBuffer, secureBufferFrom, secureBufferDebug, lockedMemoryStats } from './secure-buffer.js';
export type { LockedMemoryStats, SecureBufferInfo } from './binding.js';

/** pid/uid/gid of the process at the other end of a connected unix socket (SO_PEERCRED). In
 * Node: `(socket as any)._handle.fd`. */
export function peerCredentials(fd: number): PeerCredentials {
  return binding.peerCredentials(fd);
}

/** prctl(PR_SET_DUMPABLE): false keeps this process out of core dumps and ptrace by non-root. */
export function setDumpable(dumpable: boolean): void {
  binding.setDumpable(dumpable);
}

export function isDumpable(): boolean {
  return binding.getDumpable();
}

/** One datagram to a unix socket (`@name`: abstract), e.g. sd_notify's $NOTIFY_SOCKET. Throws on failure. */
export function sendUnixDatagram(path: string, message: string): void {
  binding.sendUnixDatagram(path, message);
}

/**
 * flock(LOCK_EX | LOCK_NB) on `path` (created 0600 if missing): the descriptor holding the lock, or
 * undefined when another open of the file holds it. The lock lasts until closeFd(fd) or the
 * process's end, however it ends. Throws on any other failure.
 */
export function lockExclusive(path: string): number | undefined {
  const fd = binding.lockExclusive(path);
  return fd >= 0 ? fd : undefined;
}

export {
  holderPut,
  holderTake,
  holderDrop,
  sdNotifyWithFd,
  claimFuseFd,
  closeFd,
  holderExecutable,
  type HeldSession,
} from './handover.js';

/** Pidfds for pinning callers (the identity resolver's pid-reuse guard). The binding's own
 * functions, not wrappers: alive() runs on every cached attribution. */
export const pidfds: NativePidfds = Object.freeze({
  open: binding.pidfdOpen,
  alive: binding.pidfdAlive,
  tgid: binding.pidfdTgid,
  pinRead: binding.pidfdPinRead,
  close: (fd: number) => binding.closeFd(fd),
});
