// The OCI 1.1 referrers listing of one subject: the referrers API, page after page as its `Link:
// <…>; rel="next"` headers say (distribution-spec "Listing Referrers"), and after a 404 the referrers
// tag schema (an index at tag "sha256-<hex>"). Pages come from a hostile registry: a next link must
// stay on the same registry and the same listing, and a repeated page or too many pages is an error.
import { MAX_DESCRIPTORS, parseDescriptors } from './descriptor.js';
import { RegistryError, type OciDescriptor } from './types.js';

/** More pages than this for one subject is an attack or a broken registry. */
export const MAX_REFERRERS_PAGES = 50;
const MAX_LINK_LENGTH = 4096;

export interface ReferrersPage {
  readonly body: Buffer;
  readonly link: string | null;
}

export interface ReferrersSource {
  /** GET /v2/<repository>/<rest> (rest = "referrers/<digest>[?query]"); throws RegistryError (kind not-found on 404). */
  page(rest: string): Promise<ReferrersPage>;
  /** The referrers tag schema index, or undefined when the tag does not exist. */
  fallbackIndex(): Promise<unknown>;
  /** `https://host/v2/<path>/`: what relative links resolve against and must stay under. */
  readonly base: URL;
}

function samePath(a: string, b: string): boolean {
  try {
    return decodeURIComponent(a) === decodeURIComponent(b);
  } catch {
    return false;
  }
}

/**
 * The target of the `rel="next"` link of a Link header (RFC 8288), resolved against `current`;
 * undefined without one. Only a link on the same origin and path (the same listing) is followed.
 */
export function nextPage(header: string | null, current: URL, what: string): URL | undefined {
  if (header === null || header === '') return undefined;
  if (header.length > MAX_LINK_LENGTH) throw new RegistryError(`${what}: Link header is too long`, 'bad-response');
  for (const m of header.matchAll(/<([^>]*)>((?:\s*;\s*[^;,<]*)*)/g)) {
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))/i.exec(m[2]!);
    const rels = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
    if (!rels.includes('next')) continue;
    let next: URL;
    try {
      next = new URL(m[1]!, current);
    } catch {
      throw new RegistryError(
        `${what}: next page link ${JSON.stringify(m[1]!.slice(0, 200))} is not a URL`,
        'bad-response',
      );
    }
    // Following a link elsewhere would send our credentials there or read another listing as this one.
    if (next.origin !== current.origin || !samePath(next.pathname, current.pathname))
      throw new RegistryError(
        `${what}: next page link leaves the listing (${JSON.stringify(`${next.origin}${next.pathname}`.slice(0, 200))})`,
        'bad-response',
      );
    return next;
  }
  return undefined;
}

function manifestsOf(body: Buffer, what: string): OciDescriptor[] {
  let index: unknown;
  try {
    index = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new RegistryError(`${what}: not JSON: ${(e as Error).message}`, 'bad-response');
  }
  const manifests =
    typeof index === 'object' && index !== null ? (index as Record<string, unknown>)['manifests'] : undefined;
  return parseDescriptors(manifests);
}

/** Every referrer of `subjectDigest` the registry lists (at most MAX_DESCRIPTORS), unfiltered. */
export async function collectReferrers(
  source: ReferrersSource,
  subjectDigest: string,
  query: string,
  what: string,
): Promise<OciDescriptor[]> {
  let rest = `referrers/${subjectDigest}${query}`;
  let first: ReferrersPage;
  try {
    first = await source.page(rest);
  } catch (e) {
    if (!(e instanceof RegistryError) || e.kind !== 'not-found') throw e;
    // No referrers API: the referrers tag schema. (A 404 on a later page is not this case: it is an error.)
    const index = await source.fallbackIndex();
    if (index === undefined) return [];
    const manifests =
      typeof index === 'object' && index !== null ? (index as Record<string, unknown>)['manifests'] : undefined;
    return parseDescriptors(manifests);
  }
  const all: OciDescriptor[] = [];
  const seen = new Set<string>([rest]);
  for (let page: ReferrersPage | undefined = first, n = 1; page !== undefined; n++) {
    all.push(...manifestsOf(page.body, what));
    if (all.length >= MAX_DESCRIPTORS) return all.slice(0, MAX_DESCRIPTORS);
    const next = nextPage(page.link, new URL(rest, source.base), what);
    if (next === undefined) break;
    rest = `${next.pathname.slice(source.base.pathname.length)}${next.search}`;
    if (seen.has(rest)) throw new RegistryError(`${what}: the next page link repeats a page`, 'bad-response');
    if (n >= MAX_REFERRERS_PAGES)
      throw new RegistryError(`${what}: more than ${MAX_REFERRERS_PAGES} pages of referrers`, 'bad-response');
    seen.add(rest);
    page = await source.page(rest);
  }
  return all;
}
