// The Notary v1 provider: image → candidate collections (by repository name and `gun` glob) →
// verified collection → targets whose sha256 is the image id or one of that repository's digests →
// labels the signed data asks for, one claim per signing role: the top-level targets role may grant
// the collection's `grants`, a delegated role only what `delegations` lists for it (unlisted: nothing).
// Grants are applied above, by the trust service.
import { existsSync, readFileSync } from 'node:fs';
import { FileSafetyError, fileSafetyProblemSync } from '../../store/index.js';
import type { NotaryCollectionConfig, NotaryConfig } from '../../config/types.js';
import type { ImageSubject } from '../types.js';
import type { LabelClaim, ProviderResult, TrustProvider } from '../provider.js';
import { combineOutcomes, imageIdHex, noneApplies, type Outcome } from '../outcomes.js';
import { globMatches } from '../glob.js';
import { imageRepositories } from '../repository.js';
import { customDataLabels, parseLabelList, PAL_LABELS_KEY } from '../labels.js';
import { CollectionError, loadCollection, type VerifiedCollection, type VerifiedTarget } from './collection.js';
import { memoryVersionStore, type VersionStore } from '../state.js';
import { httpMetadataSource, type MetadataSource } from './source.js';

export interface NotaryProviderOptions {
  readonly now: () => number;
  /** How long one verified collection may be reused for other images (ms). */
  readonly collectionMaxAgeMs: number;
  /** Replaces the HTTP source (tests with crafted metadata). */
  readonly source?: MetadataSource;
  /** Highest metadata versions seen (rollback protection); default: in memory only. */
  readonly versions?: VersionStore;
}

interface CachedCollection {
  readonly at: number;
  readonly result: Promise<VerifiedCollection>;
}

export function createNotaryProvider(config: NotaryConfig, opts: NotaryProviderOptions): TrustProvider {
  let source: MetadataSource | undefined = opts.source;
  let configError: string | undefined;
  if (source === undefined) {
    // File safety (SPEC §3): a trust store someone else can change is fatal, not "not usable".
    const caProblem =
      config.ca !== undefined && existsSync(config.ca)
        ? fileSafetyProblemSync(config.ca, { kind: 'trust store' })
        : undefined;
    if (caProblem) throw new FileSafetyError(caProblem, config.ca!);
    try {
      const ca = config.ca !== undefined ? readFileSync(config.ca) : undefined;
      source = httpMetadataSource({ server: config.server, timeoutMs: config.timeoutMs, ...(ca ? { ca } : {}) });
    } catch (e) {
      configError = `notary provider not usable: ${(e as Error).message}`;
    }
  }
  const collections = new CollectionCache(source, opts.versions ?? memoryVersionStore(), opts);

  async function labelsFor(image: ImageSubject): Promise<ProviderResult> {
    if (configError !== undefined) return { state: 'error', claims: [], reason: configError };
    const hex = imageIdHex(image);
    if (typeof hex !== 'string') return hex;
    const repos = imageRepositories(image);
    const work: Promise<Outcome>[] = [];
    for (const [repo, digests] of repos) {
      for (const coll of config.collections) {
        if (globMatches(coll.gun, repo))
          work.push(evaluate(collections, () => opts.now(), image, hex, repo, digests, coll));
      }
    }
    if (work.length === 0) return noneApplies(repos, 'Notary collection', 'configured Notary collection');
    return combineOutcomes(await Promise.all(work));
  }

  return {
    name: 'notary',
    labelsFor,
    ...(configError !== undefined ? { configError } : {}),
    reset() {
      collections.clear();
    },
    async close() {
      collections.clear();
      source?.close();
    },
  };
}

/** One image repository against one configured collection: matched (with claims), unmatched, or an error. */
async function evaluate(
  collections: CollectionCache,
  now: () => number,
  image: ImageSubject,
  imageIdHex: string,
  repo: string,
  digests: ReadonlySet<string>,
  coll: NotaryCollectionConfig,
): Promise<Outcome> {
  let verified: VerifiedCollection;
  try {
    verified = await collections.get(repo, coll.rootKeys, coll.rootThreshold);
  } catch (e) {
    if (e instanceof CollectionError && e.kind === 'not-found') return { kind: 'unmatched', reason: e.message };
    const transient = e instanceof CollectionError && e.kind === 'unreachable';
    return { kind: 'error', reason: `${repo}: ${(e as Error).message}`, transient };
  }
  if (verified.expiresAt <= now()) {
    return {
      kind: 'error',
      reason: `${repo}: signed data expired at ${new Date(verified.expiresAt).toISOString()}`,
      transient: false,
    };
  }
  const hits = verified.targets.filter((t) => t.sha256Hex === imageIdHex || digests.has(t.sha256Hex));
  const problems = verified.problems.map((p) => `${repo}: ${p}`);
  if (hits.length === 0) {
    const why = `${repo}: no signed target has this image id or a digest of this repository`;
    // A rejected delegation may be why nothing matched: say so, and fail closed as an error.
    if (verified.problems.some((p) => p.startsWith('delegation '))) {
      return { kind: 'error', reason: [why, ...problems].join('; '), transient: false };
    }
    return { kind: 'unmatched', reason: [why, ...problems].join('; ') };
  }
  const notes = [...problems];
  const claims = claimsByRole(image, repo, coll, hits, notes);
  return { kind: 'matched', claims, expiresAt: verified.expiresAt, notes };
}

/** Verified collections by (gun, pins, threshold), reused for a short while; failures are not reused. */
class CollectionCache {
  private readonly collections = new Map<string, CachedCollection>();

  constructor(
    private readonly source: MetadataSource | undefined,
    private readonly versions: VersionStore,
    private readonly opts: NotaryProviderOptions,
  ) {}

  get(gun: string, pins: readonly string[], rootThreshold: number): Promise<VerifiedCollection> {
    const key = `${gun}\u0000${[...pins].sort().join(',')}\u0000${rootThreshold}`;
    const now = this.opts.now();
    const cached = this.collections.get(key);
    if (cached !== undefined && now - cached.at < this.opts.collectionMaxAgeMs) return cached.result;
    const result = loadCollection({
      gun,
      rootPins: pins,
      rootThreshold,
      source: this.source!,
      versions: this.versions,
      now,
    });
    this.collections.set(key, { at: now, result });
    // Failures are not reused: the next image asks again.
    result.catch(() => {
      if (this.collections.get(key)?.result === result) this.collections.delete(key);
    });
    if (this.collections.size > 1000) this.collections.delete(this.collections.keys().next().value!);
    return result;
  }

  clear(): void {
    this.collections.clear();
  }
}

/** One claim per signing role, each limited to what the config lets that role grant; notes say what was left out. */
function claimsByRole(
  image: ImageSubject,
  repo: string,
  coll: NotaryCollectionConfig,
  hits: readonly VerifiedTarget[],
  notes: string[],
): LabelClaim[] {
  const byRole = new Map<string, VerifiedTarget[]>();
  for (const hit of hits) byRole.set(hit.role, [...(byRole.get(hit.role) ?? []), hit]);
  const claims: LabelClaim[] = [];
  for (const [role, roleHits] of byRole) {
    const grants = role === 'targets' ? coll.grants : coll.delegations.get(role);
    if (grants === undefined)
      notes.push(`${repo}: ${role} is not listed under this collection's delegations, so it grants nothing`);
    const labels = new Set<string>();
    for (const hit of roleHits) {
      const { labels: asked, problem } = customDataLabels(hit.custom);
      asked.forEach((l) => labels.add(l));
      if (problem !== undefined) notes.push(`${repo} target "${hit.name}": ${problem}`);
    }
    // The image config is covered by the signed digest, so its pal.labels count once it matched,
    // within what the signing role may grant.
    parseLabelList(image.imageLabels?.[PAL_LABELS_KEY]).forEach((l) => labels.add(l));
    claims.push({
      source: repo,
      labels: [...labels],
      grants: grants ?? [],
      detail: `${repo} signed ${roleHits.map((h) => `target "${h.name}" in ${role}`).join(', ')}`,
    });
  }
  return claims;
}
