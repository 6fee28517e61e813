// OCI descriptors from hostile JSON: only well-formed ones (sha256 digest, sane size, string
// annotations) come out; the rest are left out rather than half-trusted.
import type { OciDescriptor } from './types.js';

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;
/** More referrers than this for one image is an attack or a mistake; the rest are ignored. */
export const MAX_DESCRIPTORS = 1000;
const MAX_ANNOTATIONS = 256;

function annotations(value: unknown): Record<string, string> | undefined | null {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) return null;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_ANNOTATIONS || !entries.every(([, v]) => typeof v === 'string')) return null;
  return Object.fromEntries(entries) as Record<string, string>;
}

export function parseDescriptor(value: unknown): OciDescriptor | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  const { mediaType, digest, size, artifactType, platform } = v;
  if (typeof mediaType !== 'string' || !MEDIA_TYPE.test(mediaType)) return undefined;
  if (typeof digest !== 'string' || !DIGEST.test(digest)) return undefined;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return undefined;
  if (artifactType !== undefined && (typeof artifactType !== 'string' || !MEDIA_TYPE.test(artifactType)))
    return undefined;
  const ann = annotations(v['annotations']);
  if (ann === null) return undefined;
  let plat: OciDescriptor['platform'];
  if (typeof platform === 'object' && platform !== null && !Array.isArray(platform)) {
    const p = platform as Record<string, unknown>;
    const str = (x: unknown) => (typeof x === 'string' && x.length < 64 ? x : undefined);
    const os = str(p['os']);
    const architecture = str(p['architecture']);
    const variant = str(p['variant']);
    plat = {
      ...(os !== undefined ? { os } : {}),
      ...(architecture !== undefined ? { architecture } : {}),
      ...(variant !== undefined ? { variant } : {}),
    };
  }
  return {
    mediaType,
    digest,
    size,
    ...(typeof artifactType === 'string' ? { artifactType } : {}),
    ...(ann !== undefined ? { annotations: ann } : {}),
    ...(plat !== undefined ? { platform: plat } : {}),
  };
}

/** A `manifests` or `layers` array → its well-formed descriptors (not an array → []). */
export function parseDescriptors(list: unknown): OciDescriptor[] {
  if (!Array.isArray(list)) return [];
  const out: OciDescriptor[] = [];
  for (const item of list.slice(0, MAX_DESCRIPTORS)) {
    const d = parseDescriptor(item);
    if (d !== undefined) out.push(d);
  }
  return out;
}
