// Which provider granted which label, and why the others granted nothing: computed once when the
// service decides, shown by `pal containers`, `pal explain` and `.pal/whoami.json`.
import type { ProviderResult } from './provider.js';
import type { ProviderOutcome, TrustDecision } from './types.js';

/** Per claim, what the service let through and what it dropped (outside the claim's grants). */
export interface FilteredClaim {
  readonly provider: string;
  readonly detail: string;
  readonly granted: readonly string[];
  readonly dropped: readonly string[];
}

function sortedUnique(labels: Iterable<string>): string[] {
  return [...new Set(labels)].sort();
}

export function provenance(
  providerName: string,
  result: ProviderResult,
  claims: readonly FilteredClaim[],
): Pick<TrustDecision, 'grantedBy' | 'providers'> {
  const counts = result.state === 'verified' || result.state === 'unverified';
  const grantedBy: Record<string, string[]> = {};
  if (counts) {
    for (const c of claims)
      for (const l of c.granted) grantedBy[l] = sortedUnique([...(grantedBy[l] ?? []), c.provider]);
  }
  const answers = result.answers ?? [{ provider: providerName, state: result.state, reason: result.reason }];
  const providers: ProviderOutcome[] = answers.map((a) => {
    const own = claims.filter((c) => c.provider === a.provider);
    const labels = counts ? sortedUnique(own.flatMap((c) => c.granted)) : [];
    const dropped = sortedUnique(own.flatMap((c) => c.dropped)).filter((l) => !labels.includes(l));
    const reason = [...own.map((c) => c.detail), a.reason].filter((s) => s.length > 0).join('; ') || a.state;
    return {
      provider: a.provider,
      state: a.state,
      labels,
      ...(dropped.length > 0 ? { droppedLabels: dropped } : {}),
      reason,
    };
  });
  return { grantedBy: Object.fromEntries(Object.entries(grantedBy).sort(([a], [b]) => (a < b ? -1 : 1))), providers };
}

/** The provenance fields as the inspection views (whoami, explain, containers) show them. */
export function trustProvenance(decision: TrustDecision | undefined): Pick<TrustDecision, 'grantedBy' | 'providers'> {
  if (decision === undefined) return {};
  return {
    ...(decision.grantedBy !== undefined ? { grantedBy: decision.grantedBy } : {}),
    ...(decision.providers !== undefined ? { providers: decision.providers } : {}),
  };
}
