// What the filesystem view needs from the rest of pald, as narrow structural interfaces so that
// unit tests can pass fakes of our own modules and the daemon passes the real ones
// (ManifestStore, SecretCache, AuditLog, IdentityResolver, TrustService).

import type { SecureBuffer } from '../native/types.js';
import type { Caller, IdentitySource, TrustSource, SealedFactsRegistry } from '../policy/index.js';
import type { ManifestEntry, ManifestProblem } from '../store/index.js';
import type { AuthoriseSealed, OpenedSecret } from '../crypto/index.js';
import type { AuditEvent } from '../audit/index.js';
import type { HandleLedger } from './handle-ledger.js';
import type { Scheduler } from './sweep-timer.js';

export interface ManifestView {
  readonly entries: ReadonlyMap<string, ManifestEntry>;
  readonly problems: readonly ManifestProblem[];
  readonly generation: number;
}

export interface ManifestSource {
  current(): ManifestView;
}

/** Secrets a container's image carries (store/image), per caller; policy still decides each one. */
export interface ImageSecretSource {
  /** The entries of the caller's image not shadowed by the host manifest (empty when none). Never rejects. */
  forCaller(caller: Caller): Promise<ReadonlyMap<string, ManifestEntry>>;
}

export interface SecretSource {
  /**
   * Decrypts or returns the cached secret; the buffer stays owned by the source (clone it).
   * `authorise` sees the sealed name and labels a ciphertext carries in clear (Red October) before
   * it is decrypted, and throws to refuse.
   */
  get(entry: ManifestEntry, authorise?: AuthoriseSealed): Promise<OpenedSecret>;
  /**
   * The plaintext of this version if it is decrypted already (no decrypt, no ciphertext read, no
   * backend asked), else undefined. Absent: the view never opens ahead (view-state.ts openAhead).
   */
  peek?(entry: ManifestEntry): OpenedSecret | undefined;
  /** How much longer (ms) peek() answers for this version; undefined when it does not. */
  cachedForMs?(entry: ManifestEntry): number | undefined;
}

/** The resolver as the filesystem uses it: attribution, and the cheap start-time check of a pinned pid. */
export interface CallerIdentitySource extends IdentitySource {
  /**
   * Start time (/proc/<pid>/stat field 22) of the process holding `pid` only while the resolver keeps
   * it pinned (IdentityResolver.pinnedStartTime): never a read by number, undefined for a process not
   * pinned (not attested yet, exited, its pid reused, its pin evicted).
   */
  startTime(pid: number): string | undefined;
  /** The cgroup text a pinned container caller was attributed by (IdentityResolver.containerCgroup); absent: none. */
  containerCgroup?(pid: number, startTime: string): string | undefined;
}

export interface AuditSink {
  record(event: AuditEvent): void;
  /**
   * For an allow line the warm path's addon is to write itself: the line's constant part after the
   * pid (from `,"uid":` through the reason), exactly as record() would write it; undefined when
   * the sink cannot take such lines.
   */
  replayTail?(event: AuditEvent): string | undefined;
  /** Allow lines the addon wrote from a replayTail (`count` of them, UTF-8, newline-ended). */
  appendLines?(lines: Buffer, count: number): void;
}

/**
 * Where the filesystem reports what it decided, for /metrics: called at the decision point, once
 * per audited decision (before the audit log folds repeats), so the counts stay exact. Labels
 * are closed sets: op, decision, reason class.
 */
export interface RequestMetrics {
  decision(op: string, decision: AuditEvent['decision'], reasonClass: string, latencyUs: number): void;
  /** A caller attributed afresh (not reused from the memo). */
  attribution(latencyUs: number): void;
}

export interface DaemonHealth {
  /** The FUSE session is mounted (false while starting or stopping). */
  readonly mounted: boolean;
}

export interface FsDeps {
  readonly identity: CallerIdentitySource;
  readonly trust: TrustSource;
  readonly manifest: ManifestSource;
  /** Image-carried secrets (absent: only the host manifest is served). */
  readonly imageSecrets?: ImageSecretSource;
  readonly secrets: SecretSource;
  readonly audit: AuditSink;
  /** What decrypts showed about sealed names and labels; shared with `pal explain`. */
  readonly sealedFacts: SealedFactsRegistry;
  /** Read at every decision so a SIGHUP can change it. */
  readonly hostAllowUids: () => readonly number[];
  /** Copies bytes into secure memory and zeroes the source (secureBufferFrom). */
  readonly allocSecure: (bytes: Uint8Array) => SecureBuffer;
  /**
   * The daemon's own health for /run/pal/.pal/status. Deliberately narrow: nothing about other
   * containers, images, trust failures or the manifest reaches a caller.
   */
  readonly health: () => DaemonHealth;
  readonly version: string;
  readonly now?: () => number;
  /** Monotonic milliseconds for the short caller reuse window (default performance.now). */
  readonly clock?: () => number;
  /** The caller reuse window (default CALLER_REUSE_MS); tests lengthen it. */
  readonly callerReuseMs?: number;
  /**
   * Re-attest callers in use before their reuse window ends, in the background, and start their
   * window again when the answer is the same (caller-refresh.ts). Default on; the unit harness,
   * whose clock is moved by hand, turns it off.
   */
  readonly callerRefresh?: boolean;
  /** Runs the standing sponsors' timer (standing-sponsors.ts); default setTimeout, a fake in tests. */
  readonly schedule?: Scheduler;
  /** Open handles and the plaintext they pin, with pald's limits (default: SPEC §3 defaults, no cache). */
  readonly handles?: HandleLedger;
  /** The warm path: let the addon replay allowed lookups/getattrs (warm-path.ts). Default off. */
  readonly fastPath?: boolean;
  /** /metrics (absent: not counted). */
  readonly metrics?: RequestMetrics;
  /**
   * Key of the inode numbers (32 bytes; default random per run). A pald resuming its
   * predecessor's mount gets the same key, so that it can name the inodes the predecessor gave.
   */
  readonly inodeKey?: Uint8Array;
  /** This run's inode epoch (its session generation, default 1): see src/fs/inodes.ts. */
  readonly inodeEpoch?: number;
  /** Resuming a session: the epoch of the pald that numbered the kernel's inodes so far. */
  readonly previousInodeEpoch?: number;
}
