// `pal explain CONTAINER SECRET`: the decision pald would take for that container, without a pid
// and without decrypting anything. It asks policy exactly as open() does — the same attestation,
// the same `decide`, the same sealed facts the filesystem has learnt from earlier decrypts — so
// explain and open cannot disagree.

import type { Identity } from '../identity/types.js';
import type { TrustDecision } from '../trust/types.js';
import { trustProvenance } from '../trust/index.js';
import {
  attestIdentity,
  decide,
  type DecisionClass,
  type SealedFactsRegistry,
  type TrustSource,
} from '../policy/index.js';
import type { ImageSecretSource, ManifestSource } from '../fs/index.js';

export interface Explanation {
  readonly allow: boolean;
  readonly reason: string;
  /** The reason class policy gave (the same open() would get). */
  readonly class: DecisionClass | 'no-such-secret';
  readonly container: {
    readonly kind: string;
    readonly id?: string;
    readonly name?: string;
    readonly image?: string;
    readonly imageId?: string;
    readonly pod?: {
      readonly namespace: string;
      readonly name: string;
      readonly uid: string;
      readonly container: string;
    };
  };
  readonly secret: {
    readonly name: string;
    readonly labels: readonly string[];
    readonly sealedLabels?: readonly string[];
    /** The image (sha256:…) whose /etc/pal carried the secret; absent for the host manifest's. */
    readonly image?: string;
  } | null;
  readonly trust: Pick<TrustDecision, 'state' | 'provider' | 'reason' | 'labels' | 'grantedBy' | 'providers'> | null;
}

export interface ExplainDeps {
  readonly identity: { inspectContainer(idOrName: string): Promise<Identity> };
  readonly trust: TrustSource;
  readonly manifest: ManifestSource;
  readonly hostAllowUids: () => readonly number[];
  readonly sealedFacts: SealedFactsRegistry;
  /** The secrets the container's image carries (the host manifest's still win a clash). */
  readonly imageSecrets?: ImageSecretSource;
}

export async function explain(deps: ExplainDeps, container: string, secret: string): Promise<Explanation> {
  const identity = await deps.identity.inspectContainer(container);
  const caller = await attestIdentity(
    { pid: identity.pid, uid: identity.uid, gid: identity.gid },
    identity,
    deps.trust,
  );
  const who = {
    kind: identity.kind,
    ...(identity.containerId ? { id: identity.containerId } : {}),
    ...(identity.name ? { name: identity.name } : {}),
    ...(identity.imageRef ? { image: identity.imageRef } : {}),
    ...(identity.imageId ? { imageId: identity.imageId } : {}),
    ...(identity.pod ? { pod: { ...identity.pod } } : {}),
  };
  const trust = caller.trust;
  const trustInfo = trust
    ? {
        state: trust.state,
        provider: trust.provider,
        reason: trust.reason,
        labels: trust.labels,
        ...trustProvenance(trust),
      }
    : null;
  const entry =
    deps.manifest.current().entries.get(secret) ??
    (deps.imageSecrets && identity.kind === 'container' && !caller.failure
      ? (await deps.imageSecrets.forCaller(caller)).get(secret)
      : undefined);
  if (!entry)
    return {
      allow: false,
      reason: `no secret named ${secret} in the manifest${deps.imageSecrets ? " or in the container's image" : ''}`,
      class: 'no-such-secret',
      container: who,
      secret: null,
      trust: trustInfo,
    };
  const sealed = deps.sealedFacts.factsFor(entry);
  const secretInfo = {
    name: entry.name,
    labels: entry.labels,
    ...(sealed ? { sealedLabels: sealed.sealedLabels } : {}),
    ...(entry.image !== undefined ? { image: entry.image } : {}),
  };
  const decision = decide(caller, entry, { hostAllowUids: deps.hostAllowUids(), sealed });
  const reason = identity.kind === 'unknown' ? `container ${container}: ${decision.reason}` : decision.reason;
  return { allow: decision.allow, reason, class: decision.class, container: who, secret: secretInfo, trust: trustInfo };
}
