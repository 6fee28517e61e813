export { createPalFilesystem, type PalFilesystem, type KernelNotifier } from './view.js';
export type {
  FsDeps,
  ManifestSource,
  ManifestView,
  DaemonHealth,
  SecretSource,
  AuditSink,
  ImageSecretSource,
} from './deps.js';
export { ROOT_INO, PAL_DIR_INO, PAL_FILES } from './inodes.js';
export { whoami, modeString } from './inspect.js';
export { HandleLedger, DEFAULT_HANDLE_LIMITS } from './handle-ledger.js';
export type { RequestMetrics } from './deps.js';
