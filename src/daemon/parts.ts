// The pieces pald is built from, shared by the start-up steps, the admin handlers, status and reload.
// `DaemonState` is what changes while pald runs (a reload replaces config and trust; the mount comes and goes):
// every reader goes through it, so a replaced trust service or host.allow_uids is seen at once.

import type { PaldConfig } from '../config/index.js';
import type { AuditLog } from '../audit/index.js';
import type { ManifestStore } from '../store/index.js';
import type { OpenPgpBackend, RedOctoberBackend, SecretCache } from '../crypto/index.js';
import type { IdentityResolver } from '../identity/types.js';
import type { TrustService } from '../trust/types.js';
import type { FuseMount } from '../native/types.js';
import type { HandleLedger, PalFilesystem } from '../fs/index.js';
import type { SealedFactsRegistry } from '../policy/index.js';
import type { PalMetrics } from './metrics.js';
import type { ImageSecretSourceHandle } from './image-secrets.js';
import type { Handover, StopMode } from './handover.js';

export type NativeAddon = typeof import('../native/index.js');
export type Log = (line: string) => void;

export interface DaemonState {
  config: PaldConfig;
  trust: TrustService;
  mount: FuseMount | undefined;
  /** Layers earlier pald runs left at the mountpoint, counted when this one mounted. */
  inertLayersAtStart: number;
  /** How stop() leaves the mount: "handover" (SIGTERM) keeps it for the next pald when a keeper holds it. */
  stopMode: StopMode;
}

export interface DaemonParts {
  readonly state: DaemonState;
  readonly log: Log;
  readonly native: NativeAddon;
  readonly version: string;
  readonly startedAt: number;
  readonly audit: AuditLog;
  /** What the previous pald left for a restart without a new mount (docs/operations.md "Restarts"). */
  readonly handover: Handover;
  readonly store: ManifestStore;
  readonly backend: OpenPgpBackend;
  readonly redOctober: RedOctoberBackend | undefined;
  readonly metrics: PalMetrics;
  readonly cache: SecretCache;
  readonly handles: HandleLedger;
  readonly identity: IdentityResolver;
  /** What decrypts showed about sealed names and labels: learnt by the filesystem, read by `pal explain`. */
  readonly sealedFacts: SealedFactsRegistry;
  /** Secrets carried by images (/etc/pal, PAL_SECRETS_YAML); absent without Docker. */
  readonly imageSecrets: ImageSecretSourceHandle | undefined;
  readonly fs: PalFilesystem;
}
