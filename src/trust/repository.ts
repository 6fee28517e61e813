// Repository names from Docker's repoTags/repoDigests, normalised the way Docker names them, so that
// they can be matched against collection globs and used as the Notary GUN.
import type { ImageSubject } from './types.js';

const DOMAIN =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]{1,5})?$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DIGEST = /^sha256:([0-9a-f]{64})$/;

/**
 * "busybox" → "docker.io/library/busybox", "user/app" → "docker.io/user/app",
 * "localhost:5000/pal/demo" stays. Tags and digests must already be stripped.
 * Returns undefined for anything that is not a valid repository name.
 */
export function normaliseRepository(name: string): string | undefined {
  if (name.length === 0 || name.length > 255) return undefined;
  const slash = name.indexOf('/');
  let domain = 'docker.io';
  let path = name;
  if (slash !== -1) {
    const first = name.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      domain = first;
      path = name.slice(slash + 1);
    }
  }
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (!DOMAIN.test(domain)) return undefined;
  const parts = path.split('/');
  if (!parts.every((p) => PATH_COMPONENT.test(p))) return undefined;
  if (domain === 'docker.io' && parts.length === 1) parts.unshift('library');
  return `${domain}/${parts.join('/')}`;
}

/** "name:tag" → "name" (a colon after the last slash separates the tag). */
function stripTag(ref: string): string {
  const at = ref.indexOf('@');
  const noDigest = at === -1 ? ref : ref.slice(0, at);
  const colon = noDigest.lastIndexOf(':');
  return colon > noDigest.lastIndexOf('/') ? noDigest.slice(0, colon) : noDigest;
}

/**
 * The image's repositories, each with the manifest digests (hex) Docker recorded for *that*
 * repository. `<none>` entries and malformed references are skipped.
 */
export function imageRepositories(image: Pick<ImageSubject, 'repoTags' | 'repoDigests'>): Map<string, Set<string>> {
  const repos = new Map<string, Set<string>>();
  const add = (repo: string | undefined): Set<string> | undefined => {
    if (repo === undefined) return undefined;
    let set = repos.get(repo);
    if (set === undefined) repos.set(repo, (set = new Set()));
    return set;
  };
  for (const tag of image.repoTags ?? []) {
    if (typeof tag !== 'string' || tag.startsWith('<none>')) continue;
    add(normaliseRepository(stripTag(tag)));
  }
  for (const ref of image.repoDigests ?? []) {
    if (typeof ref !== 'string') continue;
    const at = ref.indexOf('@');
    if (at === -1) continue;
    const m = DIGEST.exec(ref.slice(at + 1));
    const set = m ? add(normaliseRepository(ref.slice(0, at))) : undefined;
    if (m && set) set.add(m[1]!);
  }
  return repos;
}
