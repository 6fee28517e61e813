// What the cosign provider's verifiers hand back: who signed the image's digest and what they signed.

/** One verified cosign signature over the image's manifest digest. */
export interface VerifiedSignature {
  /** "legacy .sig" or "bundle referrer sha256:…". */
  readonly where: string;
  /** "key /etc/pal/cosign/billing.pub (id …)" or "keyless https://issuer subject". */
  readonly signer: string;
  /** Signed annotations (`cosign sign -a k=v`); only string values are kept. */
  readonly annotations: Readonly<Record<string, string>>;
  /** When the signature stops counting (e.g. certificate validity for keyless), epoch ms. */
  readonly expiresAt?: number;
}

/** The outcome of looking at one storage format for one digest. */
export interface FormatOutcome {
  readonly verified: VerifiedSignature[];
  /** Why signatures that were there did not count (wrong key, tampered, other digest…). */
  readonly problems: string[];
}

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate';
export const CHAIN_ANNOTATION = 'dev.sigstore.cosign/chain';
export const REKOR_BUNDLE_ANNOTATION = 'dev.sigstore.cosign/bundle';
export const BUNDLE_ARTIFACT_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
