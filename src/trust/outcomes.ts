// How a signature provider turns what each (repository, policy) candidate found into one answer — the same
// rule for Notary, Notation and cosign: any match verifies (errors become notes beside it); else any error
// fails (transient only if every error was); else unsigned.
import type { LabelClaim, ProviderResult } from './provider.js';
import type { ImageSubject } from './types.js';

/** What one candidate found. */
export type Outcome =
  | { kind: 'matched'; claims: LabelClaim[]; notes: string[]; expiresAt?: number }
  | { kind: 'unmatched'; reason: string }
  | { kind: 'error'; reason: string; transient: boolean };

const IMAGE_ID = /^sha256:([0-9a-f]{64})$/;

/** The image id's hex digest, or the error answer when the runtime gave something else. */
export function imageIdHex(image: ImageSubject): string | ProviderResult {
  const id = IMAGE_ID.exec(typeof image.imageId === 'string' ? image.imageId : '');
  if (id === null)
    return { state: 'error', claims: [], reason: `image id ${JSON.stringify(image.imageId)} is not sha256:<64 hex>` };
  return id[1]!;
}

/** The answer when no policy or collection covers any of the image's repositories. */
export function noneApplies(repos: ReadonlyMap<string, unknown>, what: string, matcher = what): ProviderResult {
  const names = [...repos.keys()];
  return {
    state: 'unsigned',
    claims: [],
    reason:
      names.length === 0
        ? `image has no repository name, so no ${what} applies`
        : `no ${matcher} matches ${names.join(', ')}`,
  };
}

/**
 * One answer from every candidate's outcome. `keepUntil` bounds a verified answer's expiry (how long labels
 * may outlive a registry outage); `unmatched` are reasons found before any candidate ran.
 */
export function combineOutcomes(
  outcomes: readonly Outcome[],
  opts: { keepUntil?: number; unmatched?: readonly string[] } = {},
): ProviderResult {
  const matched = outcomes.filter((o): o is Extract<Outcome, { kind: 'matched' }> => o.kind === 'matched');
  const errors = outcomes.filter((o): o is Extract<Outcome, { kind: 'error' }> => o.kind === 'error');
  const unmatched = [...(opts.unmatched ?? []), ...outcomes.flatMap((o) => (o.kind === 'unmatched' ? [o.reason] : []))];
  if (matched.length > 0) {
    return {
      state: 'verified',
      claims: matched.flatMap((m) => m.claims),
      reason: [...matched.flatMap((m) => m.notes), ...errors.map((e) => e.reason)].join('; '),
      expiresAt: Math.min(opts.keepUntil ?? Infinity, ...matched.map((m) => m.expiresAt ?? Infinity)),
    };
  }
  if (errors.length > 0) {
    return {
      state: 'error',
      claims: [],
      reason: [...errors.map((e) => e.reason), ...unmatched].join('; '),
      transient: errors.every((e) => e.transient),
    };
  }
  return { state: 'unsigned', claims: [], reason: unmatched.join('; ') };
}
