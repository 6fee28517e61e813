// What the filesystem view needs from the rest of pald, as narrow structural interfaces so that
// unit tests can pass fakes of our own modules and the daemon passes the real ones
// (ManifestStore, SecretCache, AuditLog, IdentityResolver, TrustService).

import type { SecureBuffer } from '../native/types.js';
import type { Identity, CallerRef } from '../identity/types.js';
import type { ImageSubject, TrustDecision } from '../trust/types.js';

export interface SecretEntry {
  readonly name: string;
  readonly labels: readonly string[];
  readonly mode: number;
  readonly backend: 'openpgp' | 'redoctober';
  readonly ciphertextPath: string;
  readonly version: string;
  readonly mtimeMs: number;
  readonly size?: number;
}

export interface ManifestView {
  readonly entries: ReadonlyMap<string, SecretEntry>;
  readonly problems: readonly { readonly file: string; readonly line?: number; readonly entry?: string; readonly message: string }[];
  readonly generation: number;
}

export interface ManifestSource {
  current(): ManifestView;
}

export interface OpenedSecretView {
  readonly plaintext: SecureBuffer;
  readonly sealedName: string;
  readonly sealedLabels: readonly string[];
}

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

export interface AuditRecord {
  time: string;
  pid: number;
  uid: number;
  gid: number;
  container?: string;
  image?: string;
  labels?: readonly string[];
  secret?: string;
  op: string;
  decision: 'allow' | 'deny' | 'error';
  reason: string;
  latency_us: number;
}

export interface AuditSink {
  record(event: AuditRecord): void;
}

export interface PolicyDecision {
  readonly allow: boolean;
  readonly reason: string;
}

export interface PolicyInput {
  identity: Identity;
  trust?: TrustDecision;
  requiredLabels: readonly string[];
  hostAllowUids: readonly number[];
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
}
