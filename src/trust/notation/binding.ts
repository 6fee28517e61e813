// The binding of a signed manifest digest to the container's image (SPEC "Labels"): the manifest,
// fetched by digest (its sha256 checked by the registry client), must name the image id as its
// config; for a multi-platform index, one of its platform manifests must. A signature on another
// image, or a local image re-tagged with someone else's repo digest, binds to nothing.
import type { NotationRegistry } from './registry.js';

const MAX_INDEX_CHILDREN = 32;
const INDEX_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);
const MANIFEST_TYPES = new Set([
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
]);

export interface BoundManifest {
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
}

function field(json: unknown, name: string): unknown {
  return typeof json === 'object' && json !== null && !Array.isArray(json)
    ? (json as Record<string, unknown>)[name]
    : undefined;
}

function configDigest(json: unknown): string | undefined {
  const digest = field(field(json, 'config'), 'digest');
  return typeof digest === 'string' ? digest : undefined;
}

/** The manifest at `digest` when it binds to `imageId`, else the reason it does not. */
export async function bindToImage(
  registry: NotationRegistry,
  repository: string,
  digest: string,
  imageId: string,
): Promise<{ bound: BoundManifest } | { mismatch: string }> {
  const top = await registry.getManifest(repository, digest);
  const bound: BoundManifest = { digest: top.digest, mediaType: top.mediaType, size: top.bytes.length };
  if (INDEX_TYPES.has(top.mediaType)) {
    const children = field(top.json, 'manifests');
    const list = Array.isArray(children) ? children.slice(0, MAX_INDEX_CHILDREN) : [];
    for (const child of list) {
      const childDigest = field(child, 'digest');
      if (typeof childDigest !== 'string' || !MANIFEST_TYPES.has(String(field(child, 'mediaType')))) continue;
      const manifest = await registry.getManifest(repository, childDigest);
      if (configDigest(manifest.json) === imageId) return { bound };
    }
    return { mismatch: `${repository}@${digest}: no platform manifest of this index has the image id ${imageId}` };
  }
  if (!MANIFEST_TYPES.has(top.mediaType))
    return { mismatch: `${repository}@${digest}: ${top.mediaType} is not an image manifest or index` };
  const config = configDigest(top.json);
  if (config !== imageId)
    return {
      mismatch: `${repository}@${digest}: its image config is ${String(config)}, not this image's id ${imageId} (re-tagged image?)`,
    };
  return { bound };
}
