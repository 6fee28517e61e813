// What pald learnt about a secret by decrypting it: metadata only (never plaintext), kept per
// ciphertext version. One registry is owned by pald and shared by the filesystem (which learns
// facts at open) and `pal explain` (which reads them), so that both take the same decision.

export interface SealedFacts {
  /** The manifest entry's ciphertext version (sha256 of the ciphertext) the facts are about. */
  readonly version: string;
  /** Plaintext length. */
  readonly size: number;
  /** Name sealed inside the integrity-protected payload. */
  readonly sealedName: string;
  /** Labels sealed inside the integrity-protected payload. */
  readonly sealedLabels: readonly string[];
}

export class SealedFactsRegistry {
  private readonly byName = new Map<string, SealedFacts>();

  /** Record what a decrypt of `name`'s ciphertext showed. */
  learn(name: string, facts: SealedFacts): void {
    this.byName.set(name, Object.freeze({ ...facts, sealedLabels: Object.freeze([...facts.sealedLabels]) }));
  }

  /** The facts about this entry's current ciphertext, or undefined if pald has not seen it. */
  factsFor(entry: { readonly name: string; readonly version: string }): SealedFacts | undefined {
    const facts = this.byName.get(entry.name);
    return facts && facts.version === entry.version ? facts : undefined;
  }

  /** Forget a name's facts unless they are about `version` (the manifest's current one). */
  retain(name: string, version: string | undefined): void {
    if (version === undefined || this.byName.get(name)?.version !== version) this.byName.delete(name);
  }
}
