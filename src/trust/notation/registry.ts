// What the Notation provider needs from a registry: the shared OCI client (src/trust/oci) fits it.
// Declared here as the provider's own narrow seam, so unit tests can stand in a fake registry.

export interface NotationDescriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly artifactType?: string;
}

export interface NotationRegistry {
  getManifest(
    repository: string,
    reference: string,
  ): Promise<{ readonly digest: string; readonly mediaType: string; readonly bytes: Buffer; readonly json: unknown }>;
  getBlob(repository: string, digest: string, maxBytes: number): Promise<Buffer>;
  listReferrers(repository: string, subjectDigest: string, artifactType?: string): Promise<NotationDescriptor[]>;
}

/** The registry could not be reached (an outage, not bad data): earlier decisions may stand. */
export function isUnreachable(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { kind?: unknown }).kind === 'unreachable';
}
