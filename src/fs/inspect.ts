// The per-caller inspection files under /run/pal/.pal/. JSON metadata only: never plaintext,
// never anything about other callers, other containers or images, or how many secrets exist
// (SPEC §4). Every field is picked here by name: nothing passes through unlooked-at.

import type { Caller } from '../policy/index.js';
import type { PalFileName } from './inodes.js';
import type { DaemonHealth } from './deps.js';
import { trustProvenance } from '../trust/index.js';

export interface VisibleSecret {
  readonly name: string;
  readonly labels: readonly string[];
  readonly mode: number;
  readonly size: number;
  readonly version: string;
  readonly mtimeMs: number;
}

export interface InspectionInput {
  readonly caller: Caller;
  readonly visible: readonly VisibleSecret[];
  readonly version: string;
  readonly health: DaemonHealth;
}

export function modeString(mode: number): string {
  return '0' + (mode & 0o777).toString(8).padStart(3, '0');
}

export function whoami(caller: Caller): Record<string, unknown> {
  const { identity, trust } = caller;
  return {
    kind: identity.kind,
    pid: caller.ctx.pid,
    uid: caller.ctx.uid,
    gid: caller.ctx.gid,
    ...(identity.kind === 'container'
      ? {
          container: {
            id: identity.containerId ?? null,
            name: identity.name ?? null,
            image: identity.imageRef ?? null,
            imageId: identity.imageId ?? null,
            ...(identity.runtime !== undefined ? { runtime: identity.runtime } : {}),
          },
          // On Kubernetes nodes: the pod as the CRI runtime names it (its uid checked against the cgroup).
          ...(identity.pod !== undefined ? { pod: { ...identity.pod } } : {}),
        }
      : {}),
    labels: trust?.labels ?? [],
    trust: trust
      ? { state: trust.state, provider: trust.provider, reason: trust.reason, ...trustProvenance(trust) }
      : null,
    ...(identity.reason ? { reason: identity.reason } : {}),
    ...(caller.failure ? { failure: caller.failure } : {}),
  };
}

/** .pal/status: pald's version and mount health, and the caller's own trust state. */
export function callerStatus(caller: Caller, version: string, health: DaemonHealth): Record<string, unknown> {
  const { trust } = caller;
  return {
    pald: 'running',
    version,
    mounted: health.mounted === true,
    caller: {
      kind: caller.identity.kind,
      trust: trust ? { state: trust.state, provider: trust.provider, reason: trust.reason } : null,
      ...(caller.failure ? { failure: caller.failure } : {}),
    },
  };
}

export function renderPalFile(file: PalFileName, input: InspectionInput): string {
  switch (file) {
    case 'whoami.json':
      return JSON.stringify(whoami(input.caller), null, 2) + '\n';
    case 'secrets.json':
      return (
        JSON.stringify(
          {
            secrets: input.visible.map((s) => ({
              name: s.name,
              labels: s.labels,
              mode: modeString(s.mode),
              size: s.size,
              version: s.version,
              mtime: new Date(s.mtimeMs).toISOString(),
            })),
          },
          null,
          2,
        ) + '\n'
      );
    case 'version':
      return `pal ${input.version}\n`;
    case 'status':
      return JSON.stringify(callerStatus(input.caller, input.version, input.health), null, 2) + '\n';
  }
}
