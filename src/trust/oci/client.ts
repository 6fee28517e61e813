// A small OCI Distribution client for signature providers: read-only (pull scope), every manifest and
// blob checked against its sha256, size limits and a deadline on every response, a pinned CA per
// registry, plain HTTP only for loopback hosts configured `insecure`, Bearer/Basic auth from a
// Docker config.json-format file. Registries are hostile input: anything odd is an error, not a crash.
import { createHash } from 'node:crypto';
import { basicAuthorization, parseChallenge, parseTokenResponse } from './auth.js';
import { isLoopbackHost, RegistryHosts, type HostState } from './hosts.js';
import { httpGet, type HttpResponse } from './http.js';
import { collectReferrers, type ReferrersSource } from './referrers.js';
import {
  MEDIA_TYPES,
  RegistryError,
  type FetchedManifest,
  type OciDescriptor,
  type RegistryClient,
  type RegistryClientOptions,
  type RegistryHostConfig,
} from './types.js';

export { RegistryError } from './types.js';
export { isLoopbackHost } from './hosts.js';

const DIGEST = /^sha256:([0-9a-f]{64})$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/;
const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.dockerManifest,
  MEDIA_TYPES.dockerList,
].join(', ');
const MAX_REDIRECTS = 3;

/** "127.0.0.1:5000/pal/demo" → host and path; throws RegistryError for anything else. */
export function splitRepository(repository: string): { host: string; path: string } {
  const slash = typeof repository === 'string' ? repository.indexOf('/') : -1;
  const host = slash > 0 ? repository.slice(0, slash) : '';
  const path = slash > 0 ? repository.slice(slash + 1) : '';
  if (repository.length > 255 || !HOST.test(host) || !path.split('/').every((p) => PATH_COMPONENT.test(p))) {
    throw new RegistryError(
      `not a repository name with its registry host: ${JSON.stringify(repository)}`,
      'bad-response',
    );
  }
  return { host, path };
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** What the client's requests share: the per-host state (TLS, credentials, tokens) and the limits. */
interface RegistryContext {
  readonly timeoutMs: number;
  readonly maxManifestBytes: number;
  readonly hosts: RegistryHosts;
  readonly defaultDispatcher: RegistryHosts['defaultDispatcher'];
}

export function createRegistryClient(options: RegistryClientOptions = {}): RegistryClient {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const configs = new Map<string, RegistryHostConfig>(
    options.registries instanceof Map ? options.registries : Object.entries(options.registries ?? {}),
  );
  const hosts = new RegistryHosts(configs, timeoutMs, options.skipFileSafety === true);
  const ctx: RegistryContext = {
    timeoutMs,
    maxManifestBytes: options.maxManifestBytes ?? 4 * 1024 * 1024,
    hosts,
    defaultDispatcher: hosts.defaultDispatcher,
  };
  return {
    getManifest: (repository, reference) => getManifest(ctx, repository, reference),
    getBlob: (repository, digest, maxBytes) => getBlob(ctx, repository, digest, maxBytes),
    listReferrers: (repository, digest, artifactType) => listReferrers(ctx, repository, digest, artifactType),
    configProblems: hosts.problems,
    close: () => hosts.close(),
  };
}

async function fetchToken(
  ctx: RegistryContext,
  state: HostState,
  realm: string,
  params: Record<string, string>,
  scope: string,
  what: string,
) {
  const { timeoutMs, defaultDispatcher } = ctx;
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new RegistryError(`${what}: token realm ${JSON.stringify(realm.slice(0, 200))} is not a URL`, 'bad-response');
  }
  // Credentials go only over TLS, or over loopback when the (loopback) registry is configured insecure.
  const plainOk = state.insecure && url.protocol === 'http:' && isLoopbackHost(url.host);
  if (url.protocol !== 'https:' && !plainOk) {
    throw new RegistryError(`${what}: refusing token realm ${url.origin} (not https)`, 'bad-response');
  }
  if (params['service'] !== undefined) url.searchParams.set('service', params['service']);
  url.searchParams.set('scope', scope);
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (state.credentials !== undefined) headers['Authorization'] = basicAuthorization(state.credentials);
  const dispatcher = url.host === state.base.host ? state.dispatcher : defaultDispatcher;
  const res = await httpGet({ url, headers, dispatcher, timeoutMs, maxBytes: 256 * 1024, what: `${what}: token` });
  if (res.status === 401 || res.status === 403)
    throw new RegistryError(`${what}: token service denied access (${res.status})`, 'denied');
  if (res.status >= 500 || res.status === 429)
    throw new RegistryError(`${what}: token service error ${res.status}`, 'unreachable');
  if (res.status !== 200) throw new RegistryError(`${what}: token service answered ${res.status}`, 'bad-response');
  try {
    const { token, expiresInS } = parseTokenResponse(res.body);
    state.tokens.set(scope, { value: token, until: Date.now() + expiresInS * 1000 - 5_000 });
    if (state.tokens.size > 1000) state.tokens.delete(state.tokens.keys().next().value!);
    return token;
  } catch (e) {
    throw new RegistryError(`${what}: ${(e as Error).message}`, 'bad-response');
  }
}

function authorization(state: HostState, scope: string): string | undefined {
  const token = state.tokens.get(scope);
  if (token !== undefined && Date.now() < token.until) return `Bearer ${token.value}`;
  if (state.basic === true && state.credentials !== undefined) return basicAuthorization(state.credentials);
  return undefined;
}

/** GET /v2/<path>/<rest> with auth, redirects (credentials stay on the registry's origin) and status mapping. */
async function get(
  ctx: RegistryContext,
  repository: string,
  rest: string,
  accept: string,
  maxBytes: number,
  what: string,
) {
  const { hosts, timeoutMs, defaultDispatcher } = ctx;
  const { host, path } = splitRepository(repository);
  const state = hosts.get(host);
  const scope = `repository:${path}:pull`;
  let url = new URL(`/v2/${path}/${rest}`, state.base);
  let res: HttpResponse | undefined;
  let authTried = false;
  for (let hop = 0; hop <= MAX_REDIRECTS;) {
    const sameOrigin = url.origin === state.base.origin;
    const headers: Record<string, string> = { Accept: accept };
    const auth = sameOrigin ? authorization(state, scope) : undefined;
    if (auth !== undefined) headers['Authorization'] = auth;
    const dispatcher = sameOrigin ? state.dispatcher : defaultDispatcher;
    res = await httpGet({ url, headers, dispatcher, timeoutMs, maxBytes, what });
    if (res.status === 401 && sameOrigin && !authTried) {
      authTried = true;
      const challenge = parseChallenge(res.headers.get('www-authenticate'));
      if (challenge?.scheme === 'bearer' && challenge.params['realm'] !== undefined) {
        await fetchToken(ctx, state, challenge.params['realm'], challenge.params, scope, what);
        continue;
      }
      if (challenge?.scheme === 'basic' && state.credentials !== undefined) {
        state.basic = true;
        continue;
      }
    }
    if (res.status >= 300 && res.status < 400 && res.headers.get('location') !== null) {
      const next = new URL(res.headers.get('location')!, url);
      if (next.protocol !== 'https:' && next.origin !== state.base.origin) {
        throw new RegistryError(`${what}: refusing redirect to ${next.origin} (not https)`, 'bad-response');
      }
      url = next;
      hop++;
      continue;
    }
    break;
  }
  const status = res!.status;
  if (status === 200) return res!;
  if (status === 404) throw new RegistryError(`${what}: not found (404)`, 'not-found');
  if (status === 401 || status === 403) throw new RegistryError(`${what}: access denied (${status})`, 'denied');
  if (status >= 500 || status === 429) throw new RegistryError(`${what}: registry error ${status}`, 'unreachable');
  throw new RegistryError(`${what}: unexpected HTTP status ${status}`, 'bad-response');
}

async function getManifest(ctx: RegistryContext, repository: string, reference: string): Promise<FetchedManifest> {
  const byDigest = DIGEST.test(reference);
  if (!byDigest && !TAG.test(reference)) {
    throw new RegistryError(
      `not a tag or sha256 digest: ${JSON.stringify(String(reference).slice(0, 200))}`,
      'bad-response',
    );
  }
  const what = `manifest ${reference} of ${repository}`;
  const res = await get(ctx, repository, `manifests/${reference}`, MANIFEST_ACCEPT, ctx.maxManifestBytes, what);
  const digest = sha256(res.body);
  if (byDigest && digest !== reference) throw new RegistryError(`${what}: content hashes to ${digest}`, 'bad-response');
  const claimed = res.headers.get('docker-content-digest');
  if (claimed !== null && DIGEST.test(claimed) && claimed !== digest) {
    throw new RegistryError(`${what}: registry says ${claimed} but the content hashes to ${digest}`, 'bad-response');
  }
  let json: unknown;
  try {
    json = JSON.parse(res.body.toString('utf8'));
  } catch (e) {
    throw new RegistryError(`${what}: not JSON: ${(e as Error).message}`, 'bad-response');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new RegistryError(`${what}: not a JSON object`, 'bad-response');
  }
  const own = (json as Record<string, unknown>)['mediaType'];
  const contentType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
  const mediaType = typeof own === 'string' && own !== '' ? own : contentType;
  return { digest, mediaType, bytes: res.body, json };
}

async function getBlob(ctx: RegistryContext, repository: string, digest: string, maxBytes: number): Promise<Buffer> {
  if (!DIGEST.test(digest))
    throw new RegistryError(`not a sha256 digest: ${JSON.stringify(String(digest).slice(0, 200))}`, 'bad-response');
  const what = `blob ${digest} of ${repository}`;
  const res = await get(ctx, repository, `blobs/${digest}`, '*/*', maxBytes, what);
  const actual = sha256(res.body);
  if (actual !== digest) throw new RegistryError(`${what}: content hashes to ${actual}`, 'bad-response');
  return res.body;
}

async function listReferrers(
  ctx: RegistryContext,
  repository: string,
  subjectDigest: string,
  artifactType?: string,
): Promise<OciDescriptor[]> {
  const m = DIGEST.exec(subjectDigest);
  if (m === null)
    throw new RegistryError(
      `not a sha256 digest: ${JSON.stringify(String(subjectDigest).slice(0, 200))}`,
      'bad-response',
    );
  const what = `referrers of ${subjectDigest} in ${repository}`;
  const query = artifactType !== undefined ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
  const { host, path } = splitRepository(repository);
  const source: ReferrersSource = {
    base: new URL(`/v2/${path}/`, ctx.hosts.get(host).base),
    page: async (rest) => {
      const res = await get(ctx, repository, rest, MEDIA_TYPES.ociIndex, ctx.maxManifestBytes, what);
      return { body: res.body, link: res.headers.get('link') };
    },
    fallbackIndex: async () => {
      try {
        return (await getManifest(ctx, repository, `sha256-${m[1]}`)).json;
      } catch (e) {
        if (e instanceof RegistryError && e.kind === 'not-found') return undefined;
        throw e;
      }
    },
  };
  const descriptors = await collectReferrers(source, subjectDigest, query, what);
  // Registries may ignore the artifactType filter (no OCI-Filters-Applied header): filter here always.
  return artifactType === undefined ? descriptors : descriptors.filter((d) => d.artifactType === artifactType);
}
