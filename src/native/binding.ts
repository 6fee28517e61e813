// Loads the compiled addon (native/build/Release/pal_native.node) and types its raw surface.
// Only this folder talks to the binding; everyone else uses index.ts.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import type { FastPathStats, HandoverState, PassthroughStats, RetiredLease } from './types.js';

/** State of one SecureBuffer handle (never its bytes). */
export interface SecureBufferInfo {
  readonly length: number;
  /** Bytes allocated (and locked): whole pages. */
  readonly capacity: number;
  /** This handle still holds its reference. */
  readonly alive: boolean;
  readonly handedOver: boolean;
  /** References to the memory (handles, file handles); 0 once this handle let go. */
  readonly holders: number;
  /** Hex address of the memory, for /proc/self/smaps checks. */
  readonly address: string;
}

/** Locked memory the addon holds right now. */
export interface LockedMemoryStats {
  /** Bytes of live secure buffers (whole pages), each counted once however many holders share it. */
  readonly lockedBytes: number;
  readonly lockedBuffers: number;
  /** Wiped pages kept locked for reuse (at most 1 MiB). */
  readonly pooledBytes: number;
}

/** Opaque handles owned by the addon. */
export type RequestHandle = { readonly __brand: 'pal-request' };
export type MountHandle = { readonly __brand: 'pal-mount' };
export type SecureHandle = { readonly __brand: 'pal-secure' };

/** op, request (null for release notifications), pid, uid, gid, ino, then per-op arguments. */
export type Dispatch = (
  op: number,
  req: RequestHandle | null,
  pid: number,
  uid: number,
  gid: number,
  ino: number,
  a: unknown,
  b: unknown,
  c: unknown,
) => void;

export interface NativeBinding {
  mount(
    mountpoint: string,
    options: string,
    threads: number,
    dispatch: Dispatch,
    generation: number,
    takeover: { fd: number; init: Uint8Array } | null,
    passthrough: boolean,
  ): MountHandle;
  unmount(mount: MountHandle): Promise<void>;
  release(mount: MountHandle): Promise<void>;
  park(mount: MountHandle): void;
  handoverState(mount: MountHandle): HandoverState;
  passthroughStats(mount: MountHandle): PassthroughStats;
  invalidateEntry(mount: MountHandle, parent: number, name: string): void;
  invalidateInode(mount: MountHandle, ino: number): void;
  clearStaleMount(mountpoint: string): number;
  // Attributes go positionally (ino, mode, nlink, uid, gid, size, mtimeMs): no lookups by name.
  replyEntry(
    req: RequestHandle,
    ...attrThenEntryAndAttrTimeouts: [number, number, number, number, number, number, number, number, number]
  ): void;
  replyAttr(
    req: RequestHandle,
    ...attrThenAttrTimeout: [number, number, number, number, number, number, number, number]
  ): void;
  replyErr(req: RequestHandle, errno: number): void;
  replyBuf(req: RequestHandle, data: Uint8Array): void;
  replyOpen(
    req: RequestHandle,
    fh: number,
    directIo: boolean,
    keepCache: boolean,
    content: SecureHandle | Uint8Array | null,
    trueSize: number | null,
  ): boolean;
  replyDir(req: RequestHandle, names: string[], inos: number[], modes: number[]): void;
  replyStatfs(req: RequestHandle, blocks: number, files: number, nameMax: number): void;
  fastPathEnable(mount: MountHandle, on: boolean): void;
  fastPathGeneration(mount: MountHandle, generation: number): void;
  // generation, pid, uid, gid, startTime, remainingMs, name, then the attr positionally.
  fastPathRemember(
    mount: MountHandle,
    ...args: [
      number,
      number,
      number,
      number,
      string,
      number,
      string,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ]
  ): boolean;
  fastPathStats(mount: MountHandle): FastPathStats;
  // generation, pid, uid, gid, startTime, remainingMs, ino, leaseId, content, fhs.
  fastPathLease(
    mount: MountHandle,
    ...args: [number, number, number, number, string, number, number, number, SecureHandle, number[], string | null]
  ): boolean;
  fastPathRetireLeases(mount: MountHandle): void;
  fastPathExpire(mount: MountHandle): void;
  fastPathTakeRetired(mount: MountHandle): RetiredLease[];
  /**
   * The warm path's queued events, FAST_EVENT_FIELDS doubles each (see dispatch.ts), and the audit
   * lines the addon wrote for them (null when none); null when nothing is queued.
   */
  fastPathTakeEvents(mount: MountHandle): [Float64Array, Buffer | null] | null;
  fastPathBatching(mount: MountHandle, delayMs: number, atOnce: number): void;
  // generation, pid, uid, gid, startTime, remainingMs.
  fastPathExtend(mount: MountHandle, ...args: [number, number, number, number, string, number]): boolean;
  // generation, pid, uid, gid, startTime, remainingMs, cgroup.
  fastPathVouch(mount: MountHandle, ...args: [number, number, number, number, string, number, string]): boolean;
  // generation, pid, uid, gid, startTime.
  fastPathTakeUsed(mount: MountHandle, ...args: [number, number, number, number, string]): boolean;

  sbAlloc(size: number): SecureHandle;
  sbFrom(bytes: Uint8Array): SecureHandle;
  sbWrite(h: SecureHandle, src: Uint8Array, offset: number): void;
  sbRead(h: SecureHandle, offset: number, length: number): Buffer;
  sbClone(h: SecureHandle): SecureHandle;
  sbShare(h: SecureHandle): SecureHandle;
  sbWipe(h: SecureHandle): void;
  sbWipeProbe(h: SecureHandle): Buffer | null;
  sbInfo(h: SecureHandle): SecureBufferInfo;
  sbStats(): LockedMemoryStats;

  peerCredentials(fd: number): { pid: number; uid: number; gid: number };
  setDumpable(on: boolean): void;
  getDumpable(): boolean;
  sendUnixDatagram(path: string, message: string): void;
  lockExclusive(path: string): number;

  holderPut(socket: string, fd: number, payload: Uint8Array): void;
  holderTake(socket: string): { fd: number; payload: Uint8Array } | null;
  holderDrop(socket: string): boolean;
  sdNotifyWithFd(socket: string, message: string, fd: number): void;
  claimFuseFd(fd: number): boolean;
  closeFd(fd: number): void;

  pidfdOpen(this: void, tid: number): number;
  pidfdAlive(this: void, fd: number): boolean;
  pidfdTgid(this: void, fd: number): number;
  pidfdPinRead(this: void, tid: number): { fd: number; stat: string; cgroup: string; tgid: number };
}

/** Request codes shared with native/src/fuse_bridge.c. */
export const Op = {
  lookup: 1,
  getattr: 2,
  readdir: 3,
  open: 4,
  read: 5,
  release: 6,
  statfs: 7,
  // The warm path's events, in one batch (fuse_bridge.c OP_FAST_BATCH): no request to answer.
  fastBatch: 11,
} as const;

/** The kinds of event in a batch (native/src/fast_events.h PAL_EVENT_*). */
export const FastEventKind = { opened: 8, released: 9, retired: 10 } as const;
/**
 * Doubles per event in a batch: kind, pid, uid, gid, ino, fh, lease, arg, time (ms), closed (an
 * opened event: 0 still open, 1 closed with its number back to the lease, 2 closed otherwise),
 * line bytes (an opened event: the length of the audit line the addon wrote for it, 0 for none).
 */
export const FAST_EVENT_FIELDS = 11;

function locate(): string {
  // dist/src/native/binding.js when built; src/native/binding.ts when run from source.
  const candidates = ['../../../native/build/Release/pal_native.node', '../../native/build/Release/pal_native.node'];
  for (const rel of candidates) {
    const file = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(file)) return file;
  }
  throw new Error('pal native addon not built: run `npm run install` (node-gyp rebuild --directory=native)');
}

export const binding: NativeBinding = createRequire(import.meta.url)(locate()) as NativeBinding;
