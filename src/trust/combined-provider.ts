// trust.mode signed with several providers (Notary, cosign, Notation): every provider is asked, the
// container's labels are the union of what each grants (each claim keeps its own grants), and the
// reason says what each provider found. Fail closed: an error only stands aside when another
// provider verified the image; otherwise no labels.
import type { ImageSubject } from './types.js';
import type { ProviderResult, TrustProvider } from './provider.js';

function settle(p: TrustProvider, image: ImageSubject): Promise<ProviderResult> {
  return p.labelsFor(image).catch((e: unknown) => ({
    state: 'error' as const,
    claims: [],
    reason: `provider failed: ${(e as Error).message}`,
  }));
}

export function combineProviders(providers: readonly TrustProvider[]): TrustProvider {
  if (providers.length === 1) return providers[0]!;
  const configErrors = providers.flatMap((p) => (p.configError !== undefined ? [`${p.name}: ${p.configError}`] : []));
  return {
    name: providers.map((p) => p.name).join('+'),
    ...(configErrors.length > 0 ? { configError: configErrors.join('; ') } : {}),
    async labelsFor(image: ImageSubject): Promise<ProviderResult> {
      const results = await Promise.all(providers.map((p) => settle(p, image)));
      const answers = results.map((r, i) => ({ provider: providers[i]!.name, state: r.state, reason: r.reason }));
      const claimsOf = (i: number) => results[i]!.claims.map((c) => ({ ...c, provider: providers[i]!.name }));
      const said = (i: number) => {
        const r = results[i]!;
        return r.reason.length > 0
          ? `${providers[i]!.name} ${r.state}: ${r.reason}`
          : `${providers[i]!.name} ${r.state}`;
      };
      const verified = results.flatMap((r, i) => (r.state === 'verified' ? [i] : []));
      const others = results.flatMap((r, i) => (r.state !== 'verified' && r.state !== 'unsigned' ? [i] : []));
      const unsigned = results.flatMap((r, i) => (r.state === 'unsigned' ? [i] : []));
      if (verified.length > 0) {
        const expiries = verified.map((i) => results[i]!.expiresAt).filter((e): e is number => e !== undefined);
        return {
          state: 'verified',
          claims: verified.flatMap(claimsOf),
          answers,
          reason: [
            ...verified.filter((i) => results[i]!.reason !== '').map(said),
            ...others.map(said),
            ...unsigned.map(said),
          ].join('; '),
          ...(expiries.length > 0 ? { expiresAt: Math.min(...expiries) } : {}),
        };
      }
      if (others.length > 0) {
        return {
          state: 'error',
          claims: [],
          reason: [...others.map(said), ...unsigned.map(said)].join('; '),
          transient: others.every((i) => results[i]!.transient === true),
          answers,
        };
      }
      return { state: 'unsigned', claims: [], reason: unsigned.map(said).join('; '), answers };
    },
    reset() {
      providers.forEach((p) => p.reset?.());
    },
    async close() {
      await Promise.all(providers.map((p) => p.close()));
    },
  };
}
