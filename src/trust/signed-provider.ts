// trust.mode signed with several providers (Notary, Notation, …): ask each, and the image's claims
// are the union of what each verified. Every claim and every "why not" names its provider, so a
// decision says which provider granted which label and why the others did not.
import type { ImageSubject } from './types.js';
import type { LabelClaim, ProviderResult, TrustProvider } from './provider.js';

async function ask(provider: TrustProvider, image: ImageSubject): Promise<ProviderResult> {
  try {
    return await provider.labelsFor(image);
  } catch (e) {
    return { state: 'error', claims: [], reason: `provider failed: ${(e as Error).message}` };
  }
}

/** One provider stays itself; several become one that asks them all. */
export function combineProviders(providers: readonly TrustProvider[]): TrustProvider {
  if (providers.length === 1) return providers[0]!;
  const configErrors = providers.filter((p) => p.configError !== undefined).map((p) => `${p.name}: ${p.configError}`);
  return {
    name: providers.map((p) => p.name).join('+'),
    ...(configErrors.length > 0 ? { configError: configErrors.join('; ') } : {}),
    async labelsFor(image: ImageSubject): Promise<ProviderResult> {
      const results = await Promise.all(providers.map((p) => ask(p, image)));
      const named = results.map((r, i) => ({ name: providers[i]!.name, r }));
      const verified = named.filter(({ r }) => r.state === 'verified');
      const others = named.filter(({ r }) => r.state !== 'verified');
      const why = others.map(({ name, r }) => `${name}: ${r.state}${r.reason ? ` (${r.reason})` : ''}`);
      if (verified.length > 0) {
        const claims: LabelClaim[] = verified.flatMap(({ name, r }) =>
          r.claims.map((c) => ({ ...c, detail: `${name}: ${c.detail}` })),
        );
        const notes = verified.filter(({ r }) => r.reason.length > 0).map(({ name, r }) => `${name}: ${r.reason}`);
        const expiries = verified.map(({ r }) => r.expiresAt ?? Infinity);
        const expiresAt = Math.min(...expiries);
        return {
          state: 'verified',
          claims,
          reason: [...notes, ...why].join('; '),
          ...(Number.isFinite(expiresAt) ? { expiresAt } : {}),
        };
      }
      const errors = others.filter(({ r }) => r.state === 'error');
      if (errors.length > 0) {
        return { state: 'error', claims: [], reason: why.join('; '), transient: errors.every(({ r }) => r.transient) };
      }
      return { state: 'unsigned', claims: [], reason: why.join('; ') };
    },
    reset() {
      for (const p of providers) p.reset?.();
    },
    async close() {
      await Promise.all(providers.map((p) => p.close()));
    },
  };
}
