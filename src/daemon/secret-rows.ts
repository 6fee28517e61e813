// `pal secrets`: one row per secret pald can serve — the host manifest's, then those carried by
// the images read so far, each naming its image of origin. Metadata only, never plaintext.

import { modeString } from '../fs/index.js';
import type { ImageManifest, ManifestEntry } from '../store/index.js';

export interface SecretRow {
  readonly name: string;
  readonly labels: readonly string[];
  readonly namespaces?: readonly string[];
  readonly backend: string;
  readonly mode: string;
  readonly size: number | null;
  readonly version: string;
  readonly mtime: string;
  /** "host" for the host manifest, else the image id (sha256:…) whose /etc/pal carried it. */
  readonly origin: string;
  /** An image's entry whose name the host manifest also has: the host's is served, not this one. */
  readonly shadowed?: true;
}

function row(e: ManifestEntry, origin: string, shadowed: boolean): SecretRow {
  return {
    name: e.name,
    labels: e.labels,
    ...(e.namespaces !== undefined ? { namespaces: e.namespaces } : {}),
    backend: e.backend,
    mode: modeString(e.mode),
    size: e.size ?? null,
    version: e.version,
    mtime: new Date(e.mtimeMs).toISOString(),
    origin,
    ...(shadowed ? { shadowed: true as const } : {}),
  };
}

export function secretRows(
  host: ReadonlyMap<string, ManifestEntry>,
  images: readonly ImageManifest[] = [],
): SecretRow[] {
  const rows = [...host.values()].map((e) => row(e, 'host', false));
  for (const m of images) for (const e of m.entries.values()) rows.push(row(e, m.image, host.has(e.name)));
  return rows;
}
