// What the filesystem view needs from the rest of pald, as narrow structural interfaces so that
// unit tests can pass fakes of our own modules and the daemon passes the real ones
// (ManifestStore, SecretCache, AuditLog, IdentityResolver, TrustService).

import type { SecureBuffer } from '../native/types.js';
import type { Identity, CallerRef } from '../identity/types.js';
import type { ImageSubject, TrustDecision } from '../trust/types.js';
import type { ManifestEntry, ManifestProblem } from '../store/index.js';
import type { OpenedSecret } from '../crypto/index.js';
import type { AuditEvent } from '../audit/index.js';
import type { HandleLedger } from './handle-ledger.js';

export type SecretEntry = ManifestEntry;

export interface ManifestView {
  readonly entries: ReadonlyMap<string, SecretEntry>;
  readonly problems: readonly ManifestProblem[];
  readonly generation: number;
}

export interface ManifestSource {
  current(): ManifestView;
}

export type OpenedSecretView = OpenedSecret;

export interface SecretSource {
  /** Decrypts or returns the cached secret; the buffer stays owned by the source (clone it). */
  get(entry: SecretEntry): Promise<OpenedSecretView>;
}

export interface IdentitySource {
  resolve(caller: CallerRef): Promise<Identity>;
}

export interface TrustSource {
  verifiedLabels(image: ImageSubject): Promise<TrustDecision>;
}

export type AuditRecord = AuditEvent;

export interface AuditSink {
  record(event: AuditRecord): void;
}

export interface FsDeps {
  readonly identity: IdentitySource;
  readonly trust: TrustSource;
  readonly manifest: ManifestSource;
  readonly secrets: SecretSource;
  readonly audit: AuditSink;
  /** Read at every decision so a SIGHUP can change it. */
  readonly hostAllowUids: () => readonly number[];
  /** Copies bytes into secure memory and zeroes the source (secureBufferFrom). */
  readonly allocSecure: (bytes: Uint8Array) => SecureBuffer;
  /** Daemon-wide status summary shown in /run/pal/.pal/status (no secrets, no other callers). */
  readonly daemonStatus: () => Record<string, unknown>;
  readonly version: string;
  readonly now?: () => number;
  /** Open handles and the plaintext they pin, with pald's limits (default: SPEC §3 defaults, no cache). */
  readonly handles?: HandleLedger;
}
