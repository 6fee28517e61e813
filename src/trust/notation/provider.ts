// The Notation (Notary Project) provider: image → its repositories and repo digests → policies whose
// `repository` glob matches → the signed manifest bound to the image id → Notation signatures that
// refer to it (OCI referrers, or the fallback tag) → envelopes verified against the policy's trust
// store and identities → the signed target must be exactly that manifest → labels: the signed
// annotation `pal.labels` plus the image config's. Grants are applied above, by the trust service.
import type { NotationConfig, NotationPolicyConfig } from '../../config/types.js';
import type { RegistryProviderOptions } from '../registry-provider.js';
import { createRegistryClient } from '../oci/client.js';
import { FileSafetyError } from '../../store/index.js';
import type { ImageSubject } from '../types.js';
import type { LabelClaim, ProviderResult, TrustProvider } from '../provider.js';
import { combineOutcomes, imageIdHex, noneApplies, type Outcome } from '../outcomes.js';
import { globMatches } from '../glob.js';
import { imageRepositories } from '../repository.js';
import { parseLabelList, PAL_LABELS_KEY } from '../labels.js';
import { bindImage } from '../oci/binding.js';
import { parseTrustedIdentity, type TrustedIdentity } from '../../shared/x509-identity.js';
import { isUnreachable, type NotationDescriptor, type NotationRegistry } from './registry.js';
import { loadTrustStore } from './trust-store.js';
import { NotationError, type TargetArtifact, type VerifiedSignature } from './types.js';
import { COSE_MEDIA_TYPE, verifyEnvelope } from './verify.js';
import { JWS_MEDIA_TYPE } from './jws.js';

export const NOTATION_ARTIFACT_TYPE = 'application/vnd.cncf.notary.signature';
const MAX_ENVELOPE_BYTES = 256 * 1024;
/** Per image digest: a registry full of signatures must not make one decision unbounded. */
const MAX_SIGNATURES = 16;
const MAX_DIGESTS_PER_REPOSITORY = 8;

export interface NotationProviderOptions extends RegistryProviderOptions {
  /** Replaces the registry client built from `registries` (tests). */
  readonly registry?: NotationRegistry;
}

interface ReadyPolicy {
  readonly config: NotationPolicyConfig;
  readonly trustStore: readonly Buffer[];
  readonly identities: readonly TrustedIdentity[];
}

function field(json: unknown, name: string): unknown {
  return typeof json === 'object' && json !== null && !Array.isArray(json)
    ? (json as Record<string, unknown>)[name]
    : undefined;
}

function short(digest: string): string {
  return digest.slice(0, 19);
}

/** A manifest the binding tied to the image, as the signed target must describe it. */
interface BoundManifest {
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
}

/** The signed target must be the very manifest bound to the image: digest, media type and size. */
function checkTarget(target: TargetArtifact, manifest: BoundManifest): void {
  if (target.digest !== manifest.digest) throw new NotationError(`it signs ${target.digest}, not ${manifest.digest}`);
  if (target.mediaType !== manifest.mediaType)
    throw new NotationError(`it signs media type ${target.mediaType}, the manifest is ${manifest.mediaType}`);
  if (target.size !== manifest.size)
    throw new NotationError(`it signs size ${target.size}, the manifest is ${manifest.size} bytes`);
}

function loadPolicy(config: NotationPolicyConfig, skipFileSafety: boolean): ReadyPolicy {
  const identities = config.identities.map(parseTrustedIdentity);
  const store = loadTrustStore(config.trustStore, { skipFileSafety });
  return { config, trustStore: store.certificates, identities };
}

/** What the provider's steps share: the registry, the policies (usable or not), the clock and settings. */
interface NotationContext {
  readonly registry: NotationRegistry;
  readonly policies: readonly (ReadyPolicy | { config: NotationPolicyConfig; problem: string })[];
  readonly config: NotationConfig;
  readonly now: () => number;
}

export function createNotationProvider(config: NotationConfig, opts: NotationProviderOptions): TrustProvider {
  const client =
    opts.registry === undefined
      ? createRegistryClient({
          ...(opts.registries !== undefined ? { registries: opts.registries } : {}),
          timeoutMs: config.timeoutMs,
          ...(opts.skipFileSafety === true ? { skipFileSafety: true } : {}),
        })
      : undefined;
  const registry: NotationRegistry = opts.registry ?? client!;
  // A policy that cannot be used fails closed for the repositories it covers; the others work.
  const policies: (ReadyPolicy | { config: NotationPolicyConfig; problem: string })[] = [];
  const problems: string[] = [];
  for (const policy of config.policies) {
    try {
      policies.push(loadPolicy(policy, opts.skipFileSafety === true));
    } catch (e) {
      // File safety (SPEC §3): a trust store someone else can change is fatal at start.
      if (e instanceof FileSafetyError) throw e;
      const problem = `notation policy ${policy.repository} not usable: ${(e as Error).message}`;
      problems.push(problem);
      policies.push({ config: policy, problem });
    }
  }
  const configError = problems.length > 0 ? problems.join('; ') : undefined;
  const context: NotationContext = { registry, policies, config, now: opts.now };

  return {
    name: 'notation',
    labelsFor: async (image) => labelsFor(context, image),
    ...(configError !== undefined ? { configError } : {}),
    async close() {
      await client?.close();
    },
  };
}

/** One signature manifest → its envelope, verified and bound; throws NotationError with why not. */
async function verifySignature(
  ctx: NotationContext,
  repo: string,
  ref: NotationDescriptor,
  manifest: BoundManifest,
  policy: ReadyPolicy,
): Promise<VerifiedSignature> {
  const sig = await ctx.registry.getManifest(repo, ref.digest);
  const artifactType = field(sig.json, 'artifactType') ?? field(field(sig.json, 'config'), 'mediaType');
  if (artifactType !== NOTATION_ARTIFACT_TYPE) throw new NotationError('not a Notation signature manifest');
  if (field(field(sig.json, 'subject'), 'digest') !== manifest.digest)
    throw new NotationError(`its subject is not ${manifest.digest}`);
  const layers = field(sig.json, 'layers');
  if (!Array.isArray(layers) || layers.length !== 1) throw new NotationError('it does not have exactly one layer');
  const mediaType = field(layers[0], 'mediaType');
  const digest = field(layers[0], 'digest');
  if (mediaType !== JWS_MEDIA_TYPE && mediaType !== COSE_MEDIA_TYPE)
    throw new NotationError(`its envelope media type ${JSON.stringify(mediaType)} is not a Notation envelope`);
  if (typeof digest !== 'string') throw new NotationError('its layer has no digest');
  const bytes = await ctx.registry.getBlob(repo, digest, MAX_ENVELOPE_BYTES);
  const verified = verifyEnvelope(mediaType, bytes, {
    trustStore: policy.trustStore,
    identities: policy.identities,
    now: ctx.now(),
  });
  checkTarget(verified.target, manifest);
  return verified;
}

async function evaluate(
  ctx: NotationContext,
  image: ImageSubject,
  repo: string,
  digests: ReadonlySet<string>,
  policy: ReadyPolicy,
): Promise<Outcome> {
  if (digests.size === 0)
    return { kind: 'unmatched', reason: `${repo}: no repo digest (the image was not pulled from or pushed to it)` };
  const claims: LabelClaim[] = [];
  const refusals: string[] = [];
  const unmatched: string[] = [];
  let expiresAt = Infinity;
  try {
    for (const hex of [...digests].sort().slice(0, MAX_DIGESTS_PER_REPOSITORY)) {
      const digest = `sha256:${hex}`;
      const binding = await bindImage(ctx.registry, repo, digest, image.imageId);
      if ('problem' in binding) {
        refusals.push(binding.problem);
        continue;
      }
      // The repo digest, and for an index also the platform manifest of this image: either may be signed.
      for (const subject of binding.subjects) {
        const refs = await ctx.registry.listReferrers(repo, subject, NOTATION_ARTIFACT_TYPE);
        if (refs.length === 0) {
          unmatched.push(`${repo}@${short(subject)}: no Notation signature`);
          continue;
        }
        const m = await ctx.registry.getManifest(repo, subject);
        const bound: BoundManifest = { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
        for (const ref of refs.slice(0, MAX_SIGNATURES)) {
          try {
            const v = await verifySignature(ctx, repo, ref, bound, policy);
            const labels = [
              ...parseLabelList(v.target.annotations[PAL_LABELS_KEY]),
              ...parseLabelList(image.imageLabels?.[PAL_LABELS_KEY]),
            ];
            claims.push({
              source: `notation ${repo}`,
              labels,
              grants: policy.config.grants,
              detail: `notation: "${v.signer}" signed ${repo}@${short(subject)} (policy ${policy.config.repository})`,
            });
            expiresAt = Math.min(expiresAt, v.validUntil);
          } catch (e) {
            if (isUnreachable(e)) throw e;
            refusals.push(
              `${repo}@${short(subject)}: Notation signature ${short(ref.digest)} refused: ${(e as Error).message}`,
            );
          }
        }
      }
    }
  } catch (e) {
    const kind = (e as { kind?: unknown }).kind;
    if (kind === 'not-found') return { kind: 'unmatched', reason: `${repo}: ${(e as Error).message}` };
    return { kind: 'error', reason: `${repo}: ${(e as Error).message}`, transient: isUnreachable(e) };
  }
  if (claims.length > 0) return { kind: 'matched', claims, expiresAt, notes: refusals };
  // A signature that is there but refused is bad data: say so loudly (error), never just "unsigned".
  if (refusals.length > 0) return { kind: 'error', reason: [...refusals, ...unmatched].join('; '), transient: false };
  return { kind: 'unmatched', reason: unmatched.join('; ') };
}

async function labelsFor(ctx: NotationContext, image: ImageSubject): Promise<ProviderResult> {
  const hex = imageIdHex(image);
  if (typeof hex !== 'string') return hex;
  const repos = imageRepositories(image);
  const work: Promise<Outcome>[] = [];
  for (const [repo, digests] of repos) {
    for (const policy of ctx.policies) {
      if (!globMatches(policy.config.repository, repo)) continue;
      if ('problem' in policy) work.push(Promise.resolve({ kind: 'error', reason: policy.problem, transient: false }));
      else work.push(evaluate(ctx, image, repo, digests, policy));
    }
  }
  if (work.length === 0) return noneApplies(repos, 'Notation policy');
  // Until the certificates or the signature expire, and no longer than keep_verified_ms after
  // this check: how long labels may outlive a registry outage.
  return combineOutcomes(await Promise.all(work), { keepUntil: ctx.now() + ctx.config.keepVerifiedMs });
}
