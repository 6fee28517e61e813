// `pal explain CONTAINER SECRET`: the decision pald would take for that container, without a pid
// and without decrypting anything.

import type { IdentityResolver } from '../identity/types.js';
import type { TrustService, TrustDecision } from '../trust/types.js';
import { authorize } from '../policy/index.js';
import { imageSubject } from '../fs/index.js';
import type { ManifestSource } from '../fs/index.js';

export interface Explanation {
  readonly allow: boolean;
  readonly reason: string;
  readonly container: { readonly kind: string; readonly id?: string; readonly name?: string; readonly image?: string; readonly imageId?: string };
  readonly secret: { readonly name: string; readonly labels: readonly string[] } | null;
  readonly trust: Pick<TrustDecision, 'state' | 'provider' | 'reason' | 'labels'> | null;
}

export async function explain(
  deps: { identity: IdentityResolver; trust: TrustService; manifest: ManifestSource; hostAllowUids: readonly number[] },
  container: string,
  secret: string,
): Promise<Explanation> {
  const identity = await deps.identity.inspectContainer(container);
  const entry = deps.manifest.current().entries.get(secret);
  const who = {
    kind: identity.kind,
    ...(identity.containerId ? { id: identity.containerId } : {}),
    ...(identity.name ? { name: identity.name } : {}),
    ...(identity.imageRef ? { image: identity.imageRef } : {}),
    ...(identity.imageId ? { imageId: identity.imageId } : {}),
  };
  const secretInfo = entry ? { name: entry.name, labels: entry.labels } : null;
  if (identity.kind !== 'container') {
    return { allow: false, reason: `container ${container}: ${identity.reason ?? 'not found'}`, container: who, secret: secretInfo, trust: null };
  }
  const subject = imageSubject(identity);
  const trust = subject ? await deps.trust.verifiedLabels(subject) : undefined;
  const trustInfo = trust ? { state: trust.state, provider: trust.provider, reason: trust.reason, labels: trust.labels } : null;
  if (!entry) return { allow: false, reason: `no secret named ${secret} in the manifest`, container: who, secret: null, trust: trustInfo };
  if (!trust) return { allow: false, reason: 'container has no image id', container: who, secret: secretInfo, trust: null };
  const decision = authorize({ identity, trust, requiredLabels: entry.labels, hostAllowUids: deps.hostAllowUids });
  return { allow: decision.allow, reason: decision.reason, container: who, secret: secretInfo, trust: trustInfo };
}
