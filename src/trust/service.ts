// The trust service: one place for per-image caching, expiry, fail-closed behaviour, label syntax
// and grant filtering, whatever provider supplies the signed claims.
import type { ImageSubject, TrustDecision, TrustService, TrustStatus } from './types.js';
import type { ProviderResult, TrustProvider } from './provider.js';
import { isValidLabel, PAL_LABELS_KEY } from './labels.js';
import { provenance, type FilteredClaim } from './provenance.js';

export interface TrustServiceOptions {
  readonly log: (msg: string) => void;
  readonly now: () => number;
  /** Re-verify a cached decision after this long at the latest (ms). */
  readonly refreshMs: number;
  readonly maxCachedImages?: number;
}

interface CacheEntry {
  readonly decision: TrustDecision;
  /** When to ask the provider again. */
  readonly refreshAt: number;
  /** For verified decisions: until when the signed data behind them stays valid. */
  readonly validUntil?: number;
  /** The reason as first verified (kept decisions add why they were kept, once). */
  readonly verifiedReason?: string;
}

const ERROR_RETRY_MS = 5_000;

function cacheKey(image: ImageSubject): string {
  const repos = [...new Set([...(image.repoTags ?? []), ...(image.repoDigests ?? [])])].sort();
  // Runtime labels only matter to the `none` provider, but there they differ per container.
  const runtime = String(image.runtimeLabels?.[PAL_LABELS_KEY] ?? '');
  return `${String(image.imageId)}\u0000${runtime}\u0000${repos.join('\u0000')}`;
}

function sortedUnique(labels: Iterable<string>): string[] {
  return [...new Set(labels)].sort();
}

export class TrustServiceImpl implements TrustService {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<TrustDecision>>();
  private lastFailure: string | undefined;

  constructor(
    private readonly provider: TrustProvider,
    private readonly opts: TrustServiceOptions,
  ) {
    if (provider.warning !== undefined) opts.log(`WARNING: ${provider.warning}`);
    if (provider.configError !== undefined) opts.log(`trust: ${provider.configError}`);
  }

  async verifiedLabels(image: ImageSubject): Promise<TrustDecision> {
    let key: string;
    try {
      key = cacheKey(image);
    } catch (e) {
      return this.errorDecision(`malformed image description: ${(e as Error).message}`);
    }
    const entry = this.cache.get(key);
    if (entry !== undefined && this.opts.now() < entry.refreshAt) return entry.decision;
    const running = this.inflight.get(key);
    if (running !== undefined) return running;
    const work = this.refresh(key, image, entry).finally(() => this.inflight.delete(key));
    this.inflight.set(key, work);
    return work;
  }

  private errorDecision(reason: string): TrustDecision {
    return { labels: [], state: 'error', provider: this.provider.name, reason };
  }

  private async refresh(key: string, image: ImageSubject, previous: CacheEntry | undefined): Promise<TrustDecision> {
    let result: ProviderResult;
    try {
      result = await this.provider.labelsFor(image);
    } catch (e) {
      // Providers should not throw; if one does, it is a failure like any other: no labels.
      result = { state: 'error', claims: [], reason: `${this.provider.name} provider failed: ${(e as Error).message}` };
    }
    const now = this.opts.now();
    if (result.state === 'error') {
      this.lastFailure = result.reason;
      // The trust source is only unreachable: what it verified before stands until its data expires.
      if (
        result.transient === true &&
        previous?.decision.state === 'verified' &&
        previous.validUntil !== undefined &&
        now < previous.validUntil
      ) {
        const until = previous.validUntil;
        const verifiedReason = previous.verifiedReason ?? previous.decision.reason;
        const decision: TrustDecision = {
          ...previous.decision,
          reason: `${verifiedReason}; kept from the last verification until ${new Date(until).toISOString()} because ${result.reason}`,
          expiresAt: Math.min(now + this.opts.refreshMs, until),
        };
        this.opts.log(
          `trust: ${image.imageId}: ${result.reason}; keeping the last verified labels until ${new Date(until).toISOString()}`,
        );
        this.store(key, { decision, refreshAt: decision.expiresAt!, validUntil: until, verifiedReason });
        return decision;
      }
    } else {
      this.lastFailure = undefined;
    }
    // Failures are retried sooner: a Notary blip should not deny a new container for long.
    const ttl = result.state === 'error' ? Math.min(this.opts.refreshMs, ERROR_RETRY_MS) : this.opts.refreshMs;
    const refreshAt = Math.min(now + ttl, result.expiresAt ?? Infinity);
    const decision = this.decide(image, result, refreshAt);
    this.store(key, {
      decision,
      refreshAt,
      ...(decision.state === 'verified' && result.expiresAt !== undefined ? { validUntil: result.expiresAt } : {}),
    });
    return decision;
  }

  /** Claims → decision: drop malformed labels and anything outside the claim's grants, and say so. */
  private decide(image: ImageSubject, result: ProviderResult, expiresAt: number): TrustDecision {
    const granted: string[] = [];
    const dropped: string[] = [];
    const malformed: string[] = [];
    const filtered: FilteredClaim[] = [];
    for (const claim of result.claims) {
      const mine = { granted: [] as string[], dropped: [] as string[] };
      for (const label of claim.labels) {
        if (!isValidLabel(label)) malformed.push(label);
        else if (claim.grants !== undefined && !claim.grants.includes(label)) mine.dropped.push(label);
        else mine.granted.push(label);
      }
      granted.push(...mine.granted);
      dropped.push(...mine.dropped);
      filtered.push({ provider: claim.provider ?? this.provider.name, detail: claim.detail, ...mine });
    }
    const labels = result.state === 'verified' || result.state === 'unverified' ? sortedUnique(granted) : [];
    const droppedLabels = sortedUnique(dropped.filter((l) => !labels.includes(l)));
    const parts: string[] = [];
    if (result.claims.length > 0) parts.push(result.claims.map((c) => c.detail).join('; '));
    if (result.reason.length > 0) parts.push(result.reason);
    if (droppedLabels.length > 0)
      parts.push(`not granted to ${result.claims.map((c) => c.source).join(', ')}: ${droppedLabels.join(', ')}`);
    if (malformed.length > 0)
      parts.push(`malformed labels ignored: ${malformed.map((l) => JSON.stringify(l.slice(0, 64))).join(', ')}`);
    const reason = parts.join('; ') || result.state;
    const collections = result.state === 'verified' ? result.claims.map((c) => c.source) : [];
    const decision: TrustDecision = {
      labels,
      state: result.state,
      provider: this.provider.name,
      reason,
      ...(droppedLabels.length > 0 ? { droppedLabels } : {}),
      ...(collections.length > 0 ? { collection: [...new Set(collections)].join(', ') } : {}),
      expiresAt,
      ...provenance(this.provider.name, result, filtered),
    };
    if (result.state === 'unverified') {
      this.opts.log(
        `trust: UNVERIFIED labels [${labels.join(', ')}] for ${String(image.imageId)} (trust.mode none, development only)`,
      );
    } else if (droppedLabels.length > 0 || malformed.length > 0 || result.state === 'error') {
      this.opts.log(`trust: ${String(image.imageId)}: ${decision.state}: ${reason}`);
    }
    return decision;
  }

  private store(key: string, entry: CacheEntry): void {
    this.cache.delete(key);
    this.cache.set(key, entry);
    const max = this.opts.maxCachedImages ?? 10_000;
    while (this.cache.size > max) this.cache.delete(this.cache.keys().next().value!);
  }

  status(): TrustStatus {
    const warning = this.provider.warning;
    const reason = this.provider.configError ?? this.lastFailure;
    return {
      mode: this.provider.name,
      healthy: reason === undefined,
      ...(reason !== undefined ? { reason } : {}),
      ...(warning !== undefined ? { warning } : {}),
      cachedImages: this.cache.size,
    };
  }

  reset(): void {
    this.cache.clear();
    this.provider.reset?.();
  }

  async close(): Promise<void> {
    this.cache.clear();
    await this.provider.close();
  }
}
