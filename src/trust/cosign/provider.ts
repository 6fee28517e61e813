// The cosign provider: image → its repositories and repo digests (from the runtime) → policies whose
// `repository` glob matches → binding (the signed manifest names this image id) → signatures in both
// storage formats, verified with the policy's pinned keys or keyless identities → one claim per policy
// with the signed `pal.labels` annotation plus the image config's `pal.labels`. Grants are applied
// above, by the trust service.
import type { CosignConfig, CosignPolicyConfig } from '../../config/types.js';
import type { RegistryProviderOptions } from '../registry-provider.js';
import { FileSafetyError } from '../../store/index.js';
import { globMatches } from '../glob.js';
import { parseLabelList, PAL_LABELS_KEY } from '../labels.js';
import type { LabelClaim, ProviderResult, TrustProvider } from '../provider.js';
import { combineOutcomes, imageIdHex, noneApplies, type Outcome } from '../outcomes.js';
import { imageRepositories } from '../repository.js';
import type { ImageSubject } from '../types.js';
import { bindImage } from '../oci/binding.js';
import { createRegistryClient } from '../oci/client.js';
import { RegistryError, type RegistryClient } from '../oci/types.js';
import { bundleSignatures } from './bundle.js';
import { loadPinnedKeys, type PinnedKey } from './keys.js';
import { legacySignatures } from './legacy.js';
import { KeylessVerifier } from './sigstore.js';
import type { VerifiedSignature } from './types.js';

export interface CosignProviderOptions extends RegistryProviderOptions {
  /** Replaces the registry client built from `registries` (tests). */
  readonly client?: RegistryClient;
}

interface Policy {
  readonly config: CosignPolicyConfig;
  readonly keys: readonly PinnedKey[];
  readonly keyless?: KeylessVerifier;
}

function loadPolicy(config: CosignPolicyConfig, skipFileSafety: boolean): Policy {
  const keys = loadPinnedKeys(config.keys, { skipFileSafety });
  const keyless =
    config.keyless !== undefined
      ? new KeylessVerifier(config.keyless.trustedRoot, config.keyless.identities, { skipFileSafety })
      : undefined;
  return { config, keys, ...(keyless !== undefined ? { keyless } : {}) };
}

function registryFailure(e: unknown, repo: string): Outcome {
  const transient = e instanceof RegistryError && e.kind === 'unreachable';
  return { kind: 'error', reason: `${repo}: ${(e as Error).message}`, transient };
}

/** What the provider's steps share: the registry client, the usable policies, the clock and settings. */
interface CosignContext {
  readonly client: RegistryClient;
  readonly policies: readonly Policy[];
  readonly config: CosignConfig;
  readonly now: () => number;
}

export function createCosignProvider(config: CosignConfig, opts: CosignProviderOptions): TrustProvider {
  let configError: string | undefined;
  const policies: Policy[] = [];
  for (const p of config.policies) {
    try {
      policies.push(loadPolicy(p, opts.skipFileSafety === true));
    } catch (e) {
      if (e instanceof FileSafetyError) throw e; // SPEC File safety: fatal at start, like every trust store
      configError = `cosign policy for ${p.repository} not usable: ${(e as Error).message}`;
    }
  }
  const client =
    opts.client ??
    createRegistryClient({
      ...(opts.registries !== undefined ? { registries: opts.registries } : {}),
      timeoutMs: config.timeoutMs,
      ...(opts.skipFileSafety === true ? { skipFileSafety: true } : {}),
    });
  const context: CosignContext = { client, policies, config, now: opts.now };
  return {
    name: 'cosign',
    labelsFor: async (image) =>
      configError !== undefined ? { state: 'error', claims: [], reason: configError } : labelsFor(context, image),
    ...(configError !== undefined ? { configError } : {}),
    async close() {
      if (opts.client === undefined) await client.close();
    },
  };
}

async function signaturesFor(client: RegistryClient, policy: Policy, repo: string, subject: string) {
  const keyless = policy.keyless;
  const base = { client, repository: repo, digest: subject, keys: policy.keys };
  const [legacy, bundles] = await Promise.all([
    legacySignatures({
      ...base,
      ...(keyless !== undefined
        ? { keyless: (p: Buffer, s: Buffer, a: Readonly<Record<string, string>>) => keyless.verifyLegacy(p, s, a) }
        : {}),
    }),
    bundleSignatures({ ...base, ...(keyless !== undefined ? { keyless } : {}) }),
  ]);
  return { verified: [...legacy.verified, ...bundles.verified], problems: [...legacy.problems, ...bundles.problems] };
}

async function evaluate(
  client: RegistryClient,
  image: ImageSubject,
  repo: string,
  digestHex: string,
  policy: Policy,
): Promise<Outcome> {
  const digest = `sha256:${digestHex}`;
  let verified: VerifiedSignature[] = [];
  const problems: string[] = [];
  try {
    const binding = await bindImage(client, repo, digest, image.imageId);
    if ('problem' in binding) return { kind: 'error', reason: binding.problem, transient: false };
    for (const subject of binding.subjects) {
      const found = await signaturesFor(client, policy, repo, subject);
      verified = [...verified, ...found.verified];
      problems.push(...found.problems);
    }
  } catch (e) {
    return registryFailure(e, repo);
  }
  if (verified.length === 0) {
    const why = `${repo}@${digest}: no cosign signature from this policy's keys or identities`;
    // Signatures that were there but did not verify are worth an error (an attack or a mistake).
    return problems.length > 0
      ? { kind: 'error', reason: [why, ...problems].join('; '), transient: false }
      : { kind: 'unmatched', reason: why };
  }
  const labels = new Set<string>();
  for (const sig of verified) parseLabelList(sig.annotations[PAL_LABELS_KEY]).forEach((l) => labels.add(l));
  // The image config is covered by the signed digest (checked by the binding), so its pal.labels count.
  parseLabelList(image.imageLabels?.[PAL_LABELS_KEY]).forEach((l) => labels.add(l));
  const claim: LabelClaim = {
    source: `cosign ${repo}`,
    labels: [...labels],
    grants: policy.config.grants,
    detail: `cosign: ${verified.map((s) => `${s.signer} signed ${repo}@${digest} (${s.where})`).join(', ')}`,
  };
  return { kind: 'matched', claims: [claim], notes: problems };
}

async function labelsFor(context: CosignContext, image: ImageSubject): Promise<ProviderResult> {
  const hex = imageIdHex(image);
  if (typeof hex !== 'string') return hex;
  const work: Promise<Outcome>[] = [];
  const repos = imageRepositories(image);
  const unmatched: string[] = [];
  for (const [repo, digests] of repos) {
    const applicable = context.policies.filter((p) => globMatches(p.config.repository, repo));
    if (applicable.length === 0) continue;
    if (digests.size === 0)
      unmatched.push(`${repo}: the runtime knows no repo digest for this image (never pushed or pulled by digest)`);
    for (const digest of [...digests].slice(0, 8)) {
      for (const p of applicable) work.push(evaluate(context.client, image, repo, digest, p));
    }
  }
  if (work.length === 0 && unmatched.length === 0) return noneApplies(repos, 'cosign policy');
  // A verified signature does not expire by itself; keep_verified_ms bounds how long it outlives a registry outage.
  return combineOutcomes(await Promise.all(work), {
    keepUntil: context.now() + context.config.keepVerifiedMs,
    unmatched,
  });
}
