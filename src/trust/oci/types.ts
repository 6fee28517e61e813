// The OCI Distribution API as the signature providers (cosign, Notation) see it: manifests, blobs
// and referrers of one repository, every byte checked against its digest.

/** An OCI content descriptor (image-spec descriptor.md), as validated by the client. */
export interface OciDescriptor {
  readonly mediaType: string;
  /** sha256:<64 hex> (other algorithms are refused by the client). */
  readonly digest: string;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly platform?: { readonly os?: string; readonly architecture?: string; readonly variant?: string };
}

export interface FetchedManifest {
  /** sha256 of `bytes`, computed here (never taken from the registry). */
  readonly digest: string;
  /** The manifest's own `mediaType`, else the response's Content-Type. */
  readonly mediaType: string;
  /** Exactly the bytes the digest covers. */
  readonly bytes: Buffer;
  /** `bytes` parsed (an object; its fields are unchecked: hostile input). */
  readonly json: unknown;
}

export interface RegistryClient {
  /**
   * A manifest or index. `repository` is the full name with its registry host, as
   * normaliseRepository() gives it ("127.0.0.1:5000/pal/demo", "docker.io/library/busybox");
   * `reference` a tag or "sha256:<hex>" (then the bytes must hash to it).
   */
  getManifest(repository: string, reference: string): Promise<FetchedManifest>;
  /** A blob by digest, at most maxBytes; its sha256 checked. */
  getBlob(repository: string, digest: string, maxBytes: number): Promise<Buffer>;
  /**
   * Manifests whose `subject` is subjectDigest: the OCI 1.1 referrers API, and after a 404 the
   * referrers tag schema (an index at tag "sha256-<hex>"). Filtered by artifactType when given.
   * Nothing referring → []. Malformed descriptors are left out.
   */
  listReferrers(repository: string, subjectDigest: string, artifactType?: string): Promise<OciDescriptor[]>;
  /** Problems with a registry's configuration (unreadable CA/auth file…), keyed by host. */
  readonly configProblems: ReadonlyMap<string, string>;
  close(): Promise<void>;
}

/** How pald reaches one registry (pald.yaml trust.registries.<host>). */
export interface RegistryHostConfig {
  /** PEM file of the CA(s) that sign the registry's TLS certificate; replaces the system CAs. */
  readonly ca?: string;
  /** Credentials file in Docker's config.json format ({"auths": {"host": {"auth": base64(user:pass)}}}). */
  readonly auth?: string;
  /** Plain HTTP; accepted only for loopback hosts. */
  readonly insecure?: boolean;
}

export interface RegistryClientOptions {
  /** Keyed by registry host as it appears in repository names ("registry.example.com", "127.0.0.1:5000"). */
  readonly registries?: ReadonlyMap<string, RegistryHostConfig> | Readonly<Record<string, RegistryHostConfig>>;
  /** Per request, headers and body together; default 10 s. */
  readonly timeoutMs?: number;
  /** Largest manifest, index or token response; default 4 MiB. */
  readonly maxManifestBytes?: number;
  /** Skip File safety checks of CA/auth files (unit tests with files in temp dirs). */
  readonly skipFileSafety?: boolean;
}

/**
 * not-found: 404 (the thing is not there); unreachable: network trouble, timeouts, 5xx (an outage:
 * earlier decisions may stand); denied: 401/403 after authenticating; bad-response: everything else
 * (digest mismatch, oversize, malformed), which is never excused as an outage.
 */
export type RegistryFailure = 'not-found' | 'unreachable' | 'denied' | 'bad-response';

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  constructor(
    message: string,
    readonly kind: RegistryFailure,
  ) {
    super(message);
  }
}

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;
