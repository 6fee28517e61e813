// The binding between a signature and a container (SPEC Labels): the signed manifest, fetched by digest
// (sha256 checked), must name the container's image id as its config; for an index, one of its
// platform manifests must. A signature on another image, or a re-tagged local image, binds nothing.
import { parseDescriptors } from './descriptor.js';
import { MEDIA_TYPES, type RegistryClient } from './types.js';

export type Binding =
  /** `subjects`: digests whose signatures vouch for this image (the index and the platform manifest). */
  { readonly subjects: readonly string[] } | { readonly problem: string };

const MAX_PLATFORMS = 64;
const MANIFEST_TYPES: ReadonlySet<string> = new Set([MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]);
const INDEX_TYPES: ReadonlySet<string> = new Set([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList]);

function configDigest(json: unknown): unknown {
  const config = typeof json === 'object' && json !== null ? (json as Record<string, unknown>)['config'] : undefined;
  return typeof config === 'object' && config !== null ? (config as Record<string, unknown>)['digest'] : undefined;
}

/** Throws RegistryError when the registry fails (the caller decides whether that is an outage). */
export async function bindImage(
  client: RegistryClient,
  repository: string,
  manifestDigest: string,
  imageId: string,
): Promise<Binding> {
  const top = await client.getManifest(repository, manifestDigest);
  if (MANIFEST_TYPES.has(top.mediaType)) {
    const config = configDigest(top.json);
    if (config === imageId) return { subjects: [manifestDigest] };
    return {
      problem: `${repository}@${manifestDigest} has config ${JSON.stringify(config)}, not this container's image ${imageId}`,
    };
  }
  if (!INDEX_TYPES.has(top.mediaType)) {
    return { problem: `${repository}@${manifestDigest} is a ${JSON.stringify(top.mediaType)}, not an image` };
  }
  const platforms = parseDescriptors((top.json as Record<string, unknown>)['manifests'])
    .filter((d) => MANIFEST_TYPES.has(d.mediaType))
    .slice(0, MAX_PLATFORMS);
  for (const p of platforms) {
    const m = await client.getManifest(repository, p.digest);
    if (MANIFEST_TYPES.has(m.mediaType) && configDigest(m.json) === imageId)
      return { subjects: [manifestDigest, p.digest] };
  }
  return {
    problem: `no platform manifest of index ${repository}@${manifestDigest} has this container's image ${imageId}`,
  };
}
