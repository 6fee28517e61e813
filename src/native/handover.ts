// The addon's side of a restart without a new mount: talking to pald-holder and to systemd's
// file-descriptor store. Descriptors are plain numbers here; the daemon's handover module owns
// them (docs/operations.md "Restarts").
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { binding } from './binding.js';

/** What a holder keeps for the next pald: the /dev/fuse descriptor and pald's opaque payload. */
export interface HeldSession {
  readonly fd: number;
  readonly payload: Uint8Array;
}

/** Gives the holder at `socket` a duplicate of `fd` (must be /dev/fuse) with `payload`. Throws. */
export function holderPut(socket: string, fd: number, payload: Uint8Array): void {
  binding.holderPut(socket, fd, payload);
}

/** A duplicate of what the holder keeps (it keeps its own), or undefined: no holder, or it keeps nothing. */
export function holderTake(socket: string): HeldSession | undefined {
  return binding.holderTake(socket) ?? undefined;
}

/** A real stop: the holder closes what it keeps and exits. false when no holder answered. */
export function holderDrop(socket: string): boolean {
  return binding.holderDrop(socket);
}

/** sd_notify with one descriptor attached (FDSTORE=1). Throws on failure. */
export function sdNotifyWithFd(socket: string, message: string, fd: number): void {
  binding.sdNotifyWithFd(socket, message, fd);
}

/** Is fd the FUSE device (char 10:229)? If so it is made close-on-exec (inherited ones are not). */
export function claimFuseFd(fd: number): boolean {
  return binding.claimFuseFd(fd);
}

export function closeFd(fd: number): void {
  binding.closeFd(fd);
}

/** The pald-holder executable built next to the addon, if it was built. */
export function holderExecutable(): string | undefined {
  for (const rel of ['../../../native/build/Release/pald-holder', '../../native/build/Release/pald-holder']) {
    const file = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(file)) return file;
  }
  return undefined;
}
