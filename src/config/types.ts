// pald.yaml, as validated (see SPEC §3). Defaults are filled in by src/config.

export interface NotaryCollectionConfig {
  /** Glob over the GUN (repository name); `*` matches within one path segment, `**` across. */
  readonly gun: string;
  /** Pinned root key ids: canonical ids (`notary key list`) or certificate ids (root.json). */
  readonly rootKeys: readonly string[];
  /** Distinct pinned root keys that must sign root.json, whatever root.json itself claims (default 1). */
  readonly rootThreshold: number;
  /** Labels the top-level targets role may grant. */
  readonly grants: readonly string[];
  /** Labels each delegated role may grant (role name, e.g. `targets/releases`); unlisted roles grant nothing. */
  readonly delegations: ReadonlyMap<string, readonly string[]>;
}

export interface NotaryConfig {
  readonly server: string;
  /** PEM file of the CA that signed the Notary server's TLS certificate. */
  readonly ca?: string;
  readonly collections: readonly NotaryCollectionConfig[];
  /** Request timeout, ms. */
  readonly timeoutMs: number;
}

/** One Notation trust policy (pald.yaml trust.notation.policies[]). */
export interface NotationPolicyConfig {
  /** Glob over the repository name, as for Notary collections. */
  readonly repository: string;
  /** Directory of PEM CA certificates (or one PEM file). */
  readonly trustStore: string;
  /** "*" or "x509.subject: C=…, O=…, CN=…" (checked when read). */
  readonly identities: readonly string[];
  readonly grants: readonly string[];
}

export interface NotationConfig {
  readonly policies: readonly NotationPolicyConfig[];
  /** Request timeout for the registry, ms. */
  readonly timeoutMs: number;
  /** How long a verified image keeps its labels while its registry cannot be reached, ms (at most until the certificates or the signature expire). */
  readonly keepVerifiedMs: number;
}

export interface TrustConfig {
  readonly mode: 'notary' | 'none';
  readonly notary?: NotaryConfig;
  /** Notation (Notary Project) signatures in the image's registry; absent: not asked. */
  readonly notation?: NotationConfig;
  /** Sigstore cosign signatures in the image's registry; absent: not asked. */
  readonly cosign?: CosignConfig;
  /** How pald reaches registries for cosign/Notation signatures, by registry host. */
  readonly registries?: ReadonlyMap<string, RegistryConfig>;
  /** trust.recheck_ms: longest time a decision is reused before its signatures are verified again (default 30 s). */
  readonly recheckMs?: number;
}

export interface RedOctoberConfig {
  readonly server: string;
  readonly ca?: string;
  readonly user: string;
  readonly passwordFile?: string;
}

/** What any one container can make pald hold (SPEC §3 `limits`). */
export interface LimitsConfig {
  /** Open handles one container may hold; beyond: ENFILE for that container only. */
  readonly openHandlesPerContainer: number;
  /** All plaintext pald holds in locked memory, cache and open handles together. */
  readonly lockedBytes: number;
  /** Largest ciphertext, and largest decrypted (decompressed) plaintext. */
  readonly secretBytes: number;
}

export interface PaldConfig {
  readonly mountpoint: string;
  readonly manifest: string;
  readonly keys: string;
  /** File with the passphrase of passphrase-protected host keys. */
  readonly keyPassphraseFile?: string;
  /** "" when Docker is off (cri only). */
  readonly docker: { readonly host: string };
  /** A Kubernetes node's CRI runtime (containerd, CRI-O); absent = not asked. */
  readonly cri?: { readonly address: string };
  readonly trust: TrustConfig;
  readonly redoctober?: RedOctoberConfig;
  readonly admin: { readonly socket: string };
  readonly audit: { readonly path: string };
  readonly host: { readonly allowUids: readonly number[] };
  readonly cache: { readonly plaintextTtlMs: number; readonly plaintextMaxBytes: number };
  readonly limits: LimitsConfig;
  /** `metrics.listen`: host:port of the Prometheus endpoint (GET /metrics, no auth); "" = off. */
  readonly metrics: { readonly listen: string };
  /** Secrets images carry (/etc/pal, Cloudflare PAL's PAL_SECRETS_YAML). */
  readonly imageSecrets: {
    /** The PAL environment this node serves; wins over an image's `pal.environment` label. */
    readonly palEnvironment?: string;
  };
  /** What must survive restarts (trust metadata versions seen, for rollback checks). */
  readonly stateDir: string;
}

/** One keyless identity: the OIDC issuer and the certificate's subject (SAN), exact or a regexp. */
export interface CosignIdentityConfig {
  readonly issuer: string;
  readonly subject?: string;
  /** Anchored (^…$) when matched. */
  readonly subjectRegexp?: string;
}

/** One cosign trust policy (pald.yaml trust.cosign.policies[]). */
export interface CosignPolicyConfig {
  /** Glob over the repository name, as for Notary collections. */
  readonly repository: string;
  /** PEM public key files (key-pinned signatures). */
  readonly keys: readonly string[];
  /** Fulcio certificates + transparency log, trusted through the operator's trusted_root.json. */
  readonly keyless?: { readonly trustedRoot: string; readonly identities: readonly CosignIdentityConfig[] };
  readonly grants: readonly string[];
}

export interface CosignConfig {
  readonly policies: readonly CosignPolicyConfig[];
  /** Request timeout for the registry, ms. */
  readonly timeoutMs: number;
  /** How long a verified image keeps its labels while its registry cannot be reached, ms. */
  readonly keepVerifiedMs: number;
}

/** pald.yaml trust.registries.<host>. */
export interface RegistryConfig {
  /** PEM CA file for the registry's TLS certificate (replaces the system CAs for this host). */
  readonly ca?: string;
  /** Docker config.json-format credentials file. */
  readonly auth?: string;
  /** Plain HTTP: loopback hosts only. */
  readonly insecure?: boolean;
}
