// Shapes shared by the Notation envelope parser, the certificate checks and the provider.

/** Why a Notation signature was refused; the message is the decision's reason. */
export class NotationError extends Error {}

/** What the signed payload says it covers (`targetArtifact`): an OCI descriptor. */
export interface TargetArtifact {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations: Readonly<Record<string, string>>;
}

/** An envelope parsed but not yet verified. */
export interface ParsedEnvelope {
  readonly format: 'jws' | 'cose';
  /** PS256/384/512 or ES256/384/512. */
  readonly alg: string;
  /** The bytes the signature covers. */
  readonly signingInput: Buffer;
  readonly signature: Buffer;
  /** DER certificates, leaf first (as the signer sent them). */
  readonly certificates: readonly Buffer[];
  /** Epoch ms (signer-claimed, not authenticated by a timestamp authority). */
  readonly signingTime: number;
  readonly expiry?: number;
  readonly target: TargetArtifact;
}

/** A trusted signature: what it covers and until when it may be relied on. */
export interface VerifiedSignature {
  readonly target: TargetArtifact;
  /** The leaf certificate's subject, for reasons. */
  readonly signer: string;
  /** Earliest of the signature's expiry and the chain's notAfter (epoch ms). */
  readonly validUntil: number;
}
