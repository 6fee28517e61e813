// The manifest as pald serves it: validated entries plus the problems found.

import type { WatchFunction } from './dir-watch.js';

export type BackendName = 'openpgp' | 'redoctober';

export interface ManifestEntry {
  readonly name: string;
  readonly labels: readonly string[];
  /** `namespaces:` Kubernetes namespaces whose pods may have it (as well as the labels); absent = any caller. */
  readonly namespaces?: readonly string[];
  /** Permission bits only (≤ 0o777), default 0o400. */
  readonly mode: number;
  readonly backend: BackendName;
  /** Absolute path, inside the manifest's directory. */
  readonly ciphertextPath: string;
  /** sha256 hex of the ciphertext bytes: changes on rotation. */
  readonly version: string;
  /** mtime of the ciphertext file. */
  readonly mtimeMs: number;
  /** Plaintext size recorded by `pal seal` (metadata only; the decrypted length is authoritative). */
  readonly size?: number;
  /**
   * Without `size:`, an upper bound of the plaintext size read from the ciphertext without
   * decrypting (Red October: no compression, so its ciphertext is longer than its value); the
   * file's size until the first decrypt (src/fs/secret-size.ts).
   */
  readonly sizeBound?: number;
  /**
   * Plaintext cache TTL of this secret, ms (manifest `cache:`); 0 = decrypt at every open. Absent:
   * the daemon-wide cache.plaintext_ttl_ms. For Red October every decrypt takes one delegation use.
   */
  readonly cacheTtlMs?: number;
  /**
   * The image (sha256:…) whose /etc/pal carried this entry; absent for the host manifest. Such an
   * entry's ciphertextPath is inside the image, never a host path: its bytes are `ciphertext`.
   */
  readonly image?: string;
  /** The ciphertext, for an image-carried entry (read through the runtime's API, kept in memory). */
  readonly ciphertext?: Buffer;
  /**
   * An entry of Cloudflare PAL's PAL_SECRETS_YAML in an image (store/image/pal-format.ts): its
   * payload is PAL's JSON {"labels","value"} (no sealed name), not pal's.
   */
  readonly palFormat?: { readonly source: string; readonly base64: boolean };
}

export interface ManifestProblem {
  readonly file: string;
  readonly line?: number;
  readonly entry?: string;
  readonly message: string;
  /** A File safety refusal (SPEC §3): at start pald refuses to run; at a reload the last good serves. */
  readonly safety?: true;
}

export interface ManifestSnapshot {
  readonly entries: ReadonlyMap<string, ManifestEntry>;
  readonly problems: readonly ManifestProblem[];
  /** Increases by one on every reload attempt (accepted or rejected). */
  readonly generation: number;
  readonly loadedAt: number;
}

export interface ManifestStoreOptions {
  readonly log?: (message: string) => void;
  /** Watch the manifest and ciphertext files and reload on change (default true). */
  readonly watch?: boolean;
  /** Quiet period after the last file event before reloading, ms (default 100). */
  readonly debounceMs?: number;
  /** How a directory is watched (tests: a wrapper of fs.watch); fs.watch when absent. */
  readonly watchDirectory?: WatchFunction;
}
