// The seam between the trust service (caching, expiry, fail-closed, grant filtering) and the
// sources of signed labels (Notary now; cosign/Notation later). Providers say what signed data
// asks for; the service decides what is granted.
import type { ImageSubject, TrustState } from './types.js';

export interface LabelClaim {
  /** What vouches for these labels, e.g. the collection (GUN) "localhost:5000/pal/demo". */
  readonly source: string;
  /** Labels asked for, unfiltered and unvalidated. */
  readonly labels: readonly string[];
  /** Labels this source may grant; undefined only for the unverified development provider. */
  readonly grants?: readonly string[];
  /** Which signed item matched, for the decision's reason. */
  readonly detail: string;
  /** The provider that made the claim (set by the combined provider; else the service's provider). */
  readonly provider?: string;
}

/** One provider's answer inside a combined one (for "which provider granted what, and why not"). */
export interface ProviderAnswer {
  readonly provider: string;
  readonly state: TrustState;
  readonly reason: string;
}

export interface ProviderResult {
  readonly state: TrustState;
  readonly claims: readonly LabelClaim[];
  /** Why, when there are no claims (or notes beside them). */
  readonly reason: string;
  /** Earliest expiry (epoch ms) of the signed data behind the claims. */
  readonly expiresAt?: number;
  /** The trust source could not be reached: an earlier verified decision may stand until it expires. */
  readonly transient?: boolean;
  /** Set by the combined provider: what each provider answered. */
  readonly answers?: readonly ProviderAnswer[];
}

export interface TrustProvider {
  readonly name: string;
  labelsFor(image: ImageSubject): Promise<ProviderResult>;
  /** Configuration problem that makes every answer an error, if any. */
  readonly configError?: string;
  /** A warning that must be shown wherever trust status is shown (the `none` provider). */
  readonly warning?: string;
  /** Forget anything cached (SIGHUP); remembered versions (rollback protection) stay. */
  reset?(): void;
  close(): Promise<void>;
}
