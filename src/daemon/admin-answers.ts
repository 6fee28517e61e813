// What pald answers on its admin socket: status, the containers seen, the manifest's secrets, explain.
// Root only (the socket checks the peer); the answers never carry plaintext.

import type { Socket } from 'node:net';
import type { TrustService } from '../trust/types.js';
import { trustProvenance } from '../trust/index.js';
import { imageSubject } from '../policy/index.js';
import { startAdminServer, type AdminHandlers, type AdminServer } from './admin-server.js';
import { explain } from './explain.js';
import { secretRows } from './secret-rows.js';
import { step, type Closers } from './startup.js';
import type { DaemonParts } from './parts.js';

/** `pal status`: pald's health and the state of each part. */
export function daemonStatus(parts: DaemonParts): Record<string, unknown> {
  const { state, store, backend, redOctober, handles } = parts;
  // The warm path's events reach JS in batches: its counts and handles are told before they are read.
  state.mount?.fastPath.drain();
  const snap = store.current();
  const limits = state.config.limits;
  return {
    pald: 'running',
    version: parts.version,
    pid: process.pid,
    uptimeSeconds: Math.round((Date.now() - parts.startedAt) / 1000),
    mountpoint: state.config.mountpoint,
    mounted: state.mount !== undefined,
    inertLayersAtStart: state.inertLayersAtStart,
    restart: parts.handover.status(),
    // FUSE passthrough: whether the kernel reads open secrets itself (src/daemon/fuse-passthrough.ts).
    ...(state.mount ? { passthrough: state.mount.passthroughStats() } : {}),
    docker: parts.identity.status(),
    trust: state.trust.status(),
    keys: { dir: state.config.keys, usable: backend.keyIds().length, problems: backend.problems() },
    ...(redOctober ? { redoctober: redOctober.status() } : {}),
    manifest: {
      path: state.config.manifest,
      generation: snap.generation,
      entries: snap.entries.size,
      problems: snap.problems.map((p) => ({ ...p })),
    },
    cache: parts.cache.stats(),
    audit: parts.audit.health(),
    memory: {
      ...handles.stats(),
      lockedBytesLimit: limits.lockedBytes,
      openHandlesPerContainer: limits.openHandlesPerContainer,
      addonLockedBytes: parts.native.lockedMemoryStats().lockedBytes,
    },
  };
}

/** `pal containers`: each container seen, with the labels its image's trust decision grants. */
function containers(parts: DaemonParts): Promise<unknown[]> {
  const { identity, state } = parts;
  return Promise.all(
    identity.containers().map(async (c) => {
      const who = await identity.inspectContainer(c.containerId);
      const subject = who.kind === 'container' ? imageSubject(who) : undefined;
      const decision = subject ? await state.trust.verifiedLabels(subject) : undefined;
      return {
        ...c,
        labels: decision?.labels ?? [],
        trust: decision?.state ?? 'error',
        reason: decision?.reason ?? who.reason ?? '',
        ...(decision !== undefined ? { provider: decision.provider, ...trustProvenance(decision) } : {}),
      };
    }),
  );
}

/** `pal secrets`: the manifest's entries, then those of the images read so far; metadata only. */
function secrets(parts: DaemonParts): unknown[] {
  return secretRows(parts.store.current().entries, parts.imageSecrets?.known());
}

/** `pal explain`: decided with the same facts the filesystem uses (the current trust service, sealed facts). */
async function explainAnswer(parts: DaemonParts, container: string, secret: string): Promise<unknown> {
  const { state } = parts;
  // An ro: secret: whether its last decrypt found the delegations it needs.
  const lastDecrypt = parts.redOctober?.status().secrets[secret];
  const explanation = await explain(
    {
      identity: parts.identity,
      trust: {
        verifiedLabels: (image: Parameters<TrustService['verifiedLabels']>[0]) => state.trust.verifiedLabels(image),
      },
      manifest: parts.store,
      hostAllowUids: () => state.config.host.allowUids,
      sealedFacts: parts.sealedFacts,
      ...(parts.imageSecrets ? { imageSecrets: parts.imageSecrets } : {}),
    },
    container,
    secret,
  );
  return lastDecrypt ? { ...explanation, redoctober: lastDecrypt } : explanation;
}

function adminHandlers(parts: DaemonParts): AdminHandlers {
  return {
    recentAudit: (n) => parts.audit.recent(n),
    subscribeAudit: (listener) => parts.audit.subscribe(listener),
    async handle(request) {
      switch (request.op) {
        case 'status':
          return daemonStatus(parts);
        case 'containers':
          return containers(parts);
        case 'secrets':
          return secrets(parts);
        case 'explain':
          return explainAnswer(parts, request.container, request.secret);
      }
    },
  };
}

/** Opens the admin socket (root only: the peer's uid from SO_PEERCRED). */
export async function serveAdmin(parts: DaemonParts, closers: Closers): Promise<void> {
  const socketPath = parts.state.config.admin.socket;
  const admin: AdminServer = await step(`admin socket ${socketPath}`, () =>
    startAdminServer(adminHandlers(parts), {
      socketPath,
      peerUid: (socket: Socket) => {
        const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
        return typeof fd === 'number' && fd >= 0 ? parts.native.peerCredentials(fd).uid : undefined;
      },
      log: parts.log,
    }),
  );
  closers.push(() => admin.close());
}
