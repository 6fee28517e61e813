// The filesystem pald serves, wired to the daemon's parts: runtime failures and trust decisions are
// counted for /metrics on the way, and the trust service asked is always the current one (reload replaces it).

import { createDockerArchiveReader } from '../identity/index.js';
import { createPalFilesystem, type PalFilesystem } from '../fs/index.js';
import { createImageSecretSource } from './image-secrets.js';
import type { DaemonParts } from './parts.js';

export type FilesystemParts = Omit<DaemonParts, 'fs'>;

export function buildFilesystem(parts: FilesystemParts): PalFilesystem {
  const { state, identity, metrics, store, audit, native, log } = parts;
  const fs = createPalFilesystem({
    identity: {
      resolve: async (ref) => {
        const who = await identity.resolve(ref);
        if (who.kind === 'unknown') metrics.error('runtime');
        return who;
      },
      startTime: (pid) => identity.startTime(pid),
    },
    trust: {
      verifiedLabels: async (image) => {
        const decision = await state.trust.verifiedLabels(image);
        metrics.trustDecision(decision.provider, decision.state);
        return decision;
      },
    },
    manifest: store,
    // Secrets an image carries in /etc/pal, read through Docker's archive endpoint (never a host path).
    // A node with Docker off (`docker.host: ""`, CRI only) has none: CRI has no API to read an image's files.
    ...(state.config.docker.host === ''
      ? {}
      : {
          imageSecrets: createImageSecretSource({
            readArchive: createDockerArchiveReader(state.config.docker.host),
            maxCiphertextBytes: state.config.limits.secretBytes,
            hostEntries: () => store.current().entries,
            log,
            audit,
          }),
        }),
    secrets: parts.cache,
    audit,
    sealedFacts: parts.sealedFacts,
    hostAllowUids: () => state.config.host.allowUids,
    allocSecure: (bytes) => native.secureBufferFrom(bytes),
    // Callers see pald's own health only (SPEC §4): not trust.status() (its last failure names
    // another image), not the manifest, not the containers seen.
    health: () => ({ mounted: state.mount !== undefined }),
    version: parts.version,
    handles: parts.handles,
    metrics,
    // The warm path in the addon (src/fs/warm-path.ts): PAL_FAST_PATH=1 turns it on.
    fastPath: process.env.PAL_FAST_PATH === '1',
  });
  identity.onInvalidate(() => fs.forgetCallers());
  store.onChange((next, previous) => {
    fs.manifestChanged(next, previous);
    logManifestProblems(next.problems, log);
  });
  return fs;
}

export function logManifestProblems(
  problems: readonly { file: string; line?: number; message: string }[],
  log: (line: string) => void,
): void {
  for (const p of problems) log(`pald: manifest problem: ${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}`);
}
