// Contract between the C addon (native/) and the rest of pald. The addon
// implementation lives in src/native/index.ts; src/fs codes against these types.

import type { HandoverState, PassthroughStats } from './session-types.js';
export type * from './session-types.js';

/** Who is calling: taken from the kernel's FUSE request header (fuse_req_ctx). */
export interface CallerContext {
  /** Thread id of the caller, in pald's pid namespace. */
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

export interface FileAttr {
  readonly ino: number;
  /** Full st_mode, type bits included (S_IFREG | 0o400, S_IFDIR | 0o555). */
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  /** Milliseconds since the epoch; used for atime, mtime and ctime. */
  readonly mtimeMs: number;
}

export interface EntryReply {
  readonly attr: FileAttr;
  /** Seconds the kernel may cache the name → inode mapping. pal uses 0. */
  readonly entryTimeout: number;
  /** Seconds the kernel may cache the attributes. pal uses 0. */
  readonly attrTimeout: number;
}

export interface AttrReply {
  readonly attr: FileAttr;
  readonly attrTimeout: number;
}

export interface DirEntry {
  readonly name: string;
  readonly attr: FileAttr;
}

export interface OpenReply {
  /** Opaque handle chosen by JS; passed back on read and release. */
  readonly fh: number;
  readonly directIo: boolean;
  readonly keepCache: boolean;
  /**
   * When set, the addon serves read() for this handle itself, without calling the JS read
   * handler. A SecureBuffer: the handle's reference moves to the file handle (JS must not use it
   * afterwards; share() first to keep one), dropped at release; pass a share() of a cached
   * plaintext so that every handle of one secret version reads one locked copy. A Uint8Array
   * (content that is not a secret, e.g. .pal/ files): copied into ordinary, unlocked memory.
   */
  readonly content?: SecureBuffer | Uint8Array;
  /**
   * The file's size, when the size the kernel was last told for it is more (a bound, before the
   * size is known). A page-cache read (sendfile) ends where the first short READ answer says,
   * unless an answer past the end overtakes it; the addon holds such answers until the end was
   * answered (native/src/eof_gate.c). Omit it when the kernel holds the exact size.
   */
  readonly trueSize?: number;
}

export interface StatfsReply {
  readonly blocks: number;
  readonly files: number;
  readonly nameMax: number;
}

/**
 * Request handlers. Each may be async; a reply for one caller never blocks
 * others. Throw a FuseError (or any error carrying a numeric `errno`) to reply
 * with that errno; any other exception replies EIO.
 */
export interface FuseHandlers {
  lookup(ctx: CallerContext, parent: number, name: string): EntryReply | Promise<EntryReply>;
  getattr(ctx: CallerContext, ino: number): AttrReply | Promise<AttrReply>;
  readdir(ctx: CallerContext, ino: number): DirEntry[] | Promise<DirEntry[]>;
  open(ctx: CallerContext, ino: number, flags: number): OpenReply | Promise<OpenReply>;
  /** Only called for handles opened without `content`. */
  read(ctx: CallerContext, ino: number, fh: number, size: number, offset: number): Buffer | Promise<Buffer>;
  release(ctx: CallerContext, ino: number, fh: number): void | Promise<void>;
  /** The warm path's notifications: opens the addon answered from a lease, their closes, retirements. */
  fastEvent?(event: FastPathEvent): void;
  /**
   * Audit lines the addon wrote for `count` of those opens (UTF-8, one per open, each ending in a
   * newline), handed over in order with the events: before any line JS writes for a later event.
   */
  fastAuditLines?(lines: Buffer, count: number): void;
  statfs?(ctx: CallerContext, ino: number): StatfsReply | Promise<StatfsReply>;
}

export interface FuseMount {
  readonly mountpoint: string;
  /** Unmounts and stops the session threads. Idempotent. */
  unmount(): Promise<void>;
  /** Stops the session but leaves it mounted, for the next pald to resume (see HandoverState). */
  release(): Promise<void>;
  /** Handing over: serve only requests on open handles; leave the rest for the kernel to resend. */
  park(): void;
  handoverState(): HandoverState;
  passthroughStats(): PassthroughStats;
  /** fuse_lowlevel_notify_inval_entry: drop the kernel's cached name under parent. */
  invalidateEntry(parent: number, name: string): void;
  /** fuse_lowlevel_notify_inval_inode: drop cached attrs/pages of ino (off 0, len 0 = all). */
  invalidateInode(ino: number): void;
  /** The addon's decision cache for the warm path (off until enabled). */
  readonly fastPath: FastPath;
}

/** The caller an allow decision was made for, as the caller memo attested it. */
export interface FastPathCaller {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
  /** /proc/<pid>/stat field 22 as the resolver read it: the addon checks it names the same process. */
  readonly startTime: string;
  /** What is left of the caller memo's reuse window: the addon never reuses the caller longer. */
  readonly remainingMs: number;
}

/** Requests the addon answered itself and handed to JS (per op), since the mount. */
export interface FastPathStats {
  readonly lookupHits: number;
  readonly getattrHits: number;
  readonly misses: number;
  readonly fills: number;
  readonly refusedFills: number;
  /** Cached callers dropped because their process was gone (pid reused or exited). */
  readonly goneCallers: number;
  /** Callers pinned by a pidfd (one signal-0 syscall per request), or by their /proc/<pid>/stat fd. */
  readonly pidfdPins: number;
  readonly statPins: number;
  /** OPENs answered from a lease, leases attached, refused, retired. */
  readonly openHits: number;
  readonly leases: number;
  readonly refusedLeases: number;
  readonly retiredLeases: number;
  /** Reuse windows extended after JS attested the caller again with the same answer, and those refused. */
  readonly extended: number;
  readonly refusedExtends: number;
  /** Callers vouched for by their cgroup text; new processes adopted from them, and those not adopted (JS answered). */
  readonly vouched: number;
  readonly adopted: number;
  readonly unadopted: number;
  /** Vouched callers a new process may be adopted from now (those past their window are dropped as met). */
  readonly sponsors: number;
  /** Batches of events JS took (opens and closes answered in C, retirements), the events in them, and those queued now. */
  readonly eventBatches: number;
  readonly events: number;
  readonly eventsQueued: number;
  /** Closes folded into their open's event (JS had not heard of the open yet): one event for both. */
  readonly eventsFolded: number;
  /** Audit lines of opens the addon answered that it wrote itself (from the lease's auditTail). */
  readonly auditLines: number;
  readonly toJs: Readonly<Record<'lookup' | 'getattr' | 'readdir' | 'open' | 'read' | 'release' | 'statfs', number>>;
}

/**
 * The warm path (DESIGN.md): LOOKUP and GETATTR of a secret answered in C for a caller JS has
 * allowed, at an unchanged generation, within JS's own caller reuse window.
 */
export interface FastPath {
  /** On or off; either forgets everything remembered. */
  enable(on: boolean): void;
  /** Everything remembered at another generation stops answering. */
  setGeneration(generation: number): void;
  /** Remembers an allow decision made at `generation`; false when the addon refused it. */
  remember(generation: number, caller: FastPathCaller, name: string, attr: FileAttr): boolean;
  /**
   * Lets the addon replay an allowed open of inode `ino` for `caller` (which must hold a
   * remembered grant for it) at `generation`: each replayed open takes one of `fhs` (handle
   * numbers the handle ledger booked for the caller's owner) and reads `content`, which is handed
   * over either way. `auditTail`: the constant part of each replayed open's audit line (from `,"uid":`
   * through the reason, as AuditLog.replayTail gives it); the addon then writes the line itself
   * (FuseHandlers.fastAuditLines). Absent: JS writes it from the `opened` event. False when refused.
   */
  lease(
    generation: number,
    caller: FastPathCaller,
    ino: number,
    leaseId: number,
    content: SecureBuffer,
    fhs: readonly number[],
    auditTail?: string,
  ): boolean;
  /** Retires every lease (lookups stay remembered). */
  retireLeases(): void;
  /** Forgets callers whose reuse window is over, with their leases. */
  expire(): void;
  /** Leases retired since the last call: their unused handle numbers go back to the ledger. */
  takeRetired(): RetiredLease[];
  /**
   * Whether that remembered caller (pid, uid, gid, start time; remainingMs is not read) sent a
   * request at `generation` since the last call; clears it. Absent: the caller memo sees JS's hits only.
   */
  takeUsed?(generation: number, caller: FastPathCaller): boolean;
  /**
   * JS attested that caller again in full, starting at `generation`, with the same answer: its
   * window (and its leases') ends `caller.remainingMs` from now. False when the addon refused
   * (another generation, not remembered, window over, process gone).
   */
  extend?(generation: number, caller: FastPathCaller): boolean;
  /**
   * That remembered container caller was attributed by exactly this /proc/<pid>/cgroup text (as the
   * resolver read it while the caller was pinned): the addon may adopt a new process whose text,
   * uid and gid are the same, with this caller's grants, leases and window (fast_path.h
   * pal_fast_vouch). False when refused (not remembered at `generation`, text too long).
   */
  vouch?(generation: number, caller: FastPathCaller, cgroup: string): boolean;
  /**
   * Hands every event still queued in the addon to FuseHandlers.fastEvent now (they otherwise
   * arrive in batches, a few ms after the fact, and before the next request JS answers).
   */
  drain(): void;
  /**
   * Longest an event waits before it is handed over (default 10 ms), and how many queued are handed
   * over at once (default 256). Tests hold them until the session stops.
   */
  setBatching?(delayMs: number, atOnce: number): void;
  stats(): FastPathStats;
}

/** A lease the addon stopped answering opens from. */
export interface RetiredLease {
  readonly lease: number;
  /** Handles opened from it that are still open (each comes back with fastReleased, returned false). */
  readonly inUse: number;
  /** Opens answered from it in all (JS has had, or will have, an `opened` event for each). */
  readonly opened: number;
  /** Booked handle numbers never (or no longer) in use. */
  readonly free: readonly number[];
}

/** What the addon tells JS about the warm path, after the fact (FuseHandlers.fastEvent). */
export type FastPathEvent =
  | {
      readonly kind: 'opened';
      readonly ctx: CallerContext;
      readonly ino: number;
      readonly fh: number;
      readonly lease: number;
      readonly latencyUs: number;
      /** Wall clock (ms since the epoch) when the addon answered the open: the audit line's time. */
      readonly timeMs: number;
      /**
       * The handle was closed too before JS heard of the open: the addon folded its `released`
       * event into this one (fast_events.c), with that event's `returned`.
       */
      readonly closed: boolean;
      /** When closed: its number went back to the live lease (else the lease was retired: JS's again). */
      readonly returned: boolean;
      /** The addon wrote its audit line (handed over through fastAuditLines): JS writes none. */
      readonly audited: boolean;
    }
  | {
      readonly kind: 'released';
      readonly ino: number;
      readonly fh: number;
      readonly lease: number;
      readonly returned: boolean;
    }
  | { readonly kind: 'retired' };

/**
 * Memory for plaintext: mlock'ed, MADV_DONTDUMP, wiped with explicit_bzero. Reference counted:
 * share() makes another holder of the same memory; the memory is zeroed, unlocked and freed when
 * the last holder (handle, share or file handle it was given to) lets go.
 */
export interface SecureBuffer {
  readonly length: number;
  /** True until this handle let go (wipe(), or given to an OpenReply). */
  readonly alive: boolean;
  /** Copy bytes in at offset. Refused once shared: open files never see their bytes change. */
  write(src: Uint8Array, offset?: number): void;
  /** A new secure buffer with the same bytes, copied inside native memory (a second locked copy). */
  clone(): SecureBuffer;
  /** Another holder of the same memory: no copy, no new locked bytes. */
  share(): SecureBuffer;
  /** A copy of the content, for callers that must hand bytes to JS (avoid for plaintext). */
  read(offset?: number, length?: number): Buffer;
  /** This holder lets go; the last one to let go zeroes the memory, unlocks and frees it. Idempotent. */
  wipe(): void;
}

export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

/** Pidfds for pinning a caller (native/src/pidfd.c); closed through closeFd. */
export interface NativePidfds {
  /**
   * pidfd_open for the thread `tid` (PIDFD_THREAD; a process pidfd, leaders only, before Linux 6.9).
   * Throws Error{code: 'ERR_PAL_PIDFD', errno} when none can be had (errno ESRCH: no such thread).
   */
  open(tid: number): number;
  /** pidfd_send_signal(fd, 0): true while its thread lives (zombie included), false once reaped (ESRCH); throws otherwise. */
  alive(fd: number): boolean;
  /** Thread group id of its thread (PIDFD_GET_INFO, Linux 6.13+); 0 where the kernel cannot tell; throws once gone (ESRCH). */
  tgid(fd: number): number;
  /**
   * open + read /proc/<tid>/stat (< 4 KiB) and cgroup (< 64 KiB) + tgid + alive (after the reads), in one
   * call; throws Error{code: 'ERR_PAL_PIDFD', errno, step} with the pidfd closed (step alive, ESRCH: gone).
   */
  pinRead(tid: number): { readonly fd: number; readonly stat: string; readonly cgroup: string; readonly tgid: number };
  close(fd: number): void;
}
