// The filesystem pald serves, wired to the daemon's parts: runtime failures and trust decisions are
// counted for /metrics on the way, and the trust service asked is always the current one (reload replaces it).

import { createPalFilesystem, type PalFilesystem } from '../fs/index.js';
import type { DaemonParts } from './parts.js';

export type FilesystemParts = Omit<DaemonParts, 'fs'>;

export function buildFilesystem(parts: FilesystemParts): PalFilesystem {
  const { state, identity, metrics, store, audit, native, log } = parts;
  const fs = createPalFilesystem({
    inodeKey: parts.handover.inodeKey,
    inodeEpoch: parts.handover.generation,
    ...(parts.handover.previousGeneration !== undefined
      ? { previousInodeEpoch: parts.handover.previousGeneration }
      : {}),
    identity: {
      resolve: async (ref) => {
        const who = await identity.resolve(ref);
        if (who.kind === 'unknown') metrics.error('runtime');
        return who;
      },
      startTime: (pid) => identity.pinnedStartTime(pid),
      containerCgroup: (pid, startTime) => identity.containerCgroup(pid, startTime),
    },
    trust: {
      verifiedLabels: async (image) => {
        const decision = await state.trust.verifiedLabels(image);
        metrics.trustDecision(decision.provider, decision.state);
        return decision;
      },
    },
    manifest: store,
    // Secrets an image carries (/etc/pal, PAL_SECRETS_YAML), read through Docker, never a host path.
    ...(parts.imageSecrets ? { imageSecrets: parts.imageSecrets } : {}),
    secrets: parts.cache,
    // The addon writes the lines of the opens it replays (native/src/audit_line.c), unless
    // PAL_AUDIT_LINES=js: JS writes each one (the two are A/B'd in the bench).
    audit: process.env.PAL_AUDIT_LINES === 'js' ? { record: (e) => audit.record(e) } : audit,
    sealedFacts: parts.sealedFacts,
    hostAllowUids: () => state.config.host.allowUids,
    allocSecure: (bytes) => native.secureBufferFrom(bytes),
    // Callers see pald's own health only (SPEC §4): not trust.status() (its last failure names
    // another image), not the manifest, not the containers seen.
    health: () => ({ mounted: state.mount !== undefined }),
    version: parts.version,
    handles: parts.handles,
    metrics,
    // The warm path in the addon (src/fs/warm-path.ts): on unless PAL_FAST_PATH=0.
    fastPath: process.env.PAL_FAST_PATH !== '0',
  });
  identity.onInvalidate(() => fs.forgetCallers());
  // A container attributed at its start: its first process's lookups are decided ahead, for the warm
  // path (PAL_START_SPONSOR=0 leaves them to that process's requests, for A/B runs in the bench).
  metrics.standingSponsors(() => fs.standingSponsors());
  if (process.env.PAL_START_SPONSOR !== '0') {
    identity.onStarted?.((init) => {
      const { pid, uid, gid } = init;
      void fs.sponsor({ pid, uid, gid }).then((secrets) => metrics.startSponsor(secrets));
    });
  }
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
