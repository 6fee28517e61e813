// Trust answers one question: which labels has signed data granted to this image?
// Kept free of TUF-isms so that cosign/Notation providers can sit beside Notary.

export interface ImageSubject {
  /** sha256:<64 hex> of the image config. */
  readonly imageId: string;
  /** e.g. "registry.example.com/billing/app@sha256:…". */
  readonly repoDigests: readonly string[];
  /** e.g. "registry.example.com/billing/app:1.2". */
  readonly repoTags: readonly string[];
  /** Image config labels (covered by the image id). */
  readonly imageLabels: Readonly<Record<string, string>>;
  /** Container runtime labels: only ever used by the `none` (development) provider. */
  readonly runtimeLabels?: Readonly<Record<string, string>>;
}

export type TrustState =
  | 'verified' // signed data matched and granted these labels
  | 'unsigned' // no signed target matched this image: no labels
  | 'error' // the trust source failed or the data was bad: no labels (fail closed)
  | 'unverified'; // trust.mode none: labels taken as declared (development only)

/** What one provider found for the image: its labels, or why it granted none. */
export interface ProviderOutcome {
  readonly provider: string;
  readonly state: TrustState;
  /** Labels this provider's signed data granted (after its grants). */
  readonly labels: readonly string[];
  /** Labels its signed data asked for but its policy's grants did not allow. */
  readonly droppedLabels?: readonly string[];
  readonly reason: string;
}

export interface TrustDecision {
  readonly labels: readonly string[];
  readonly state: TrustState;
  /** Provider name, e.g. "notary" or "none". */
  readonly provider: string;
  /** Human-readable why: which collection/target matched, which labels were dropped, what failed. */
  readonly reason: string;
  /** Labels the signed data asked for but the collection's grants did not allow. */
  readonly droppedLabels?: readonly string[];
  /** The signed collection (GUN) that granted the labels. */
  readonly collection?: string;
  /** Epoch ms after which the decision must be re-verified. */
  readonly expiresAt?: number;
  /** Label → the providers whose signed data granted it. */
  readonly grantedBy?: Readonly<Record<string, readonly string[]>>;
  /** Every provider asked, with what it granted or why it did not. */
  readonly providers?: readonly ProviderOutcome[];
}

export interface TrustStatus {
  readonly mode: string;
  readonly healthy: boolean;
  readonly reason?: string;
  readonly warning?: string;
  readonly cachedImages: number;
}

export interface TrustService {
  /** Never throws: failures come back as state 'error' with a reason and no labels. */
  verifiedLabels(image: ImageSubject): Promise<TrustDecision>;
  status(): TrustStatus;
  /** Drop cached decisions (SIGHUP). */
  reset(): void;
  close(): Promise<void>;
}
