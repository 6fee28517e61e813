// A throwaway Debian `docker-registry` (Distribution 2.8) on a free 127.0.0.1 port with a temp root
// directory, optionally TLS with a test CA, for the tests and the demo; plus push helpers that write
// blobs, manifests and the OCI referrers tag fallback with plain HTTP, exactly as cosign/Notation store
// signatures.
// Stopped by its pid: callers register stop() with t.teardown/after.always.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Agent, fetch as undiciFetch } from 'undici';
import { freePort, makeTestPki, type TestPki } from './notary.js';
import { waitFor } from './wait.js';
import { stopChild } from './stop-child.js';

const run = promisify(execFile);

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const EMPTY_JSON = Buffer.from('{}');

export interface TestRegistry {
  /** "127.0.0.1:PORT": the registry part of repository names. */
  readonly host: string;
  /** "http://127.0.0.1:PORT" (or https with `tls`). */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly pid: number;
  /** With `tls`: the test CA (ca.pem path and PEM). */
  readonly pki?: TestPki;
  running(): boolean;
  /** Stop the registry (keeps the storage: start() brings the same content back on the same port). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** stop() and remove the temp dir. */
  destroy(): Promise<void>;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export function sha256Digest(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export interface TokenAuthConfig {
  realm: string;
  service: string;
  issuer: string;
  /** PEM of the certificate(s) whose keys sign tokens. */
  rootCertBundle: string;
}

function registryConfig(root: string, port: number, pki?: TestPki, token?: TokenAuthConfig): string {
  const tls = pki ? `\n  tls:\n    certificate: ${pki.certPath}\n    key: ${pki.keyPath}` : '';
  const auth = token
    ? `auth:\n  token:\n    realm: ${token.realm}\n    service: ${token.service}\n    issuer: ${token.issuer}\n    rootcertbundle: ${token.rootCertBundle}\n`
    : '';
  return `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}${tls}
${auth}`;
}

/** Start docker-registry on a free loopback port (retrying if the port was taken meanwhile). */
export async function startRegistry(
  opts: {
    tls?: boolean;
    /** Serve another registry's storage (e.g. read it with auth). */ storageOf?: TestRegistry;
    tokenAuth?: TokenAuthConfig;
  } = {},
): Promise<TestRegistry> {
  await run('sh', ['-c', 'command -v docker-registry']).catch(() => {
    throw new Error('docker-registry is not installed: run scripts/install-deps.sh (Debian package docker-registry)');
  });
  const dir = await mkdtemp(path.join(tmpdir(), 'pal-registry-'));
  const pki = opts.tls === true ? await makeTestPki(dir) : undefined;
  const agent = new Agent(pki ? { connect: { ca: pki.ca } } : {});
  const scheme = pki ? 'https' : 'http';
  let child: ChildProcess | undefined;
  let port = 0;

  async function spawnOn(p: number): Promise<string> {
    const configPath = path.join(dir, 'config.yml');
    const storage = path.join(opts.storageOf?.dir ?? dir, 'storage');
    await writeFile(configPath, registryConfig(storage, p, pki, opts.tokenAuth));
    const c = spawn('docker-registry', ['serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    let stderr = '';
    c.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
    try {
      await waitFor(
        'docker-registry ready',
        async () => {
          if (c.exitCode !== null) throw new Error(`docker-registry exited ${c.exitCode}: ${stderr}`);
          const res = await undiciFetch(`${scheme}://127.0.0.1:${p}/v2/`, { dispatcher: agent });
          return res.status === 200 || (opts.tokenAuth !== undefined && res.status === 401) ? true : undefined;
        },
        { timeoutMs: 15_000 },
      );
      return '';
    } catch (e) {
      await stopChild(c);
      if (/address already in use/.test(stderr)) return 'in use';
      throw e;
    }
  }

  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    if ((await spawnOn(port)) === '') break;
    if (attempt >= 3) throw new Error('docker-registry: no free port');
  }
  const reg: TestRegistry = {
    host: `127.0.0.1:${port}`,
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    dir,
    get pid() {
      return child!.pid!;
    },
    ...(pki ? { pki } : {}),
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    stop: async () => {
      if (child) await stopChild(child);
    },
    start: async () => {
      if (reg.running()) return;
      if ((await spawnOn(port)) !== '') throw new Error(`docker-registry: port ${port} taken while stopped`);
    },
    destroy: async () => {
      if (child) await stopChild(child);
      await agent.close().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
  registryAgents.set(reg.url, agent);
  return reg;
}

const registryAgents = new Map<string, Agent>();

async function http(
  reg: TestRegistry,
  method: string,
  url: string,
  body?: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await undiciFetch(url, {
    method,
    headers,
    ...(body !== undefined ? { body } : {}),
    dispatcher: registryAgents.get(reg.url)!,
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body: bytes };
}

/** Monolithic blob upload (POST then PUT ?digest=); returns its descriptor. */
export async function pushBlob(
  reg: TestRegistry,
  repo: string,
  bytes: Buffer,
  mediaType = 'application/octet-stream',
): Promise<Descriptor> {
  const digest = sha256Digest(bytes);
  const start = await http(reg, 'POST', `${reg.url}/v2/${repo}/blobs/uploads/`);
  if (start.status !== 202) throw new Error(`blob upload start: HTTP ${start.status}`);
  const loc = new URL(start.headers.get('location')!, reg.url);
  loc.searchParams.set('digest', digest);
  const put = await http(reg, 'PUT', loc.toString(), bytes, { 'Content-Type': 'application/octet-stream' });
  if (put.status !== 201) throw new Error(`blob upload: HTTP ${put.status} ${put.body.toString()}`);
  return { mediaType, digest, size: bytes.length };
}

/** PUT a manifest (bytes as given, or an object serialised once) at a tag or its digest; returns its descriptor. */
export async function pushManifest(
  reg: TestRegistry,
  repo: string,
  reference: string | undefined,
  manifest: Buffer | object,
  mediaType = OCI_MANIFEST,
): Promise<Descriptor> {
  const bytes = Buffer.isBuffer(manifest) ? manifest : Buffer.from(JSON.stringify(manifest));
  const digest = sha256Digest(bytes);
  const put = await http(reg, 'PUT', `${reg.url}/v2/${repo}/manifests/${reference ?? digest}`, bytes, {
    'Content-Type': mediaType,
  });
  if (put.status !== 201) throw new Error(`manifest PUT ${reference}: HTTP ${put.status} ${put.body.toString()}`);
  return { mediaType, digest, size: bytes.length };
}

/** GET a manifest (OCI and Docker types accepted); undefined on 404. */
export async function fetchManifest(reg: TestRegistry, repo: string, reference: string): Promise<Buffer | undefined> {
  const res = await http(reg, 'GET', `${reg.url}/v2/${repo}/manifests/${reference}`, undefined, {
    Accept: [OCI_MANIFEST, OCI_INDEX, 'application/vnd.docker.distribution.manifest.v2+json'].join(', '),
  });
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`manifest GET ${reference}: HTTP ${res.status}`);
  return res.body;
}

/** The descriptor of a manifest the registry holds (e.g. one `docker push` made), from a HEAD by digest. */
export async function manifestDescriptor(reg: TestRegistry, repo: string, digest: string): Promise<Descriptor> {
  const res = await http(reg, 'HEAD', `${reg.url}/v2/${repo}/manifests/${digest}`, undefined, {
    Accept: [OCI_MANIFEST, OCI_INDEX, 'application/vnd.docker.distribution.manifest.v2+json'].join(', '),
  });
  if (res.status !== 200) throw new Error(`manifest HEAD ${repo}@${digest}: HTTP ${res.status}`);
  const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
  return { mediaType, digest, size: Number(res.headers.get('content-length')) };
}

/** A small synthetic image (config + one layer); the image id is the config digest. */
export async function pushImage(
  reg: TestRegistry,
  repo: string,
  tag: string,
  opts: { labels?: Record<string, string>; layer?: Buffer } = {},
): Promise<{ manifest: Descriptor; imageId: string; config: Buffer }> {
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Labels: opts.labels ?? {} },
      rootfs: { type: 'layers', diff_ids: [] },
    }),
  );
  const configDesc = await pushBlob(reg, repo, config, 'application/vnd.oci.image.config.v1+json');
  const layer = await pushBlob(
    reg,
    repo,
    opts.layer ?? Buffer.from(`layer of ${repo}:${tag}`),
    'application/vnd.oci.image.layer.v1.tar',
  );
  const manifest = await pushManifest(reg, repo, tag, {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: configDesc,
    layers: [layer],
  });
  return { manifest, imageId: configDesc.digest, config };
}

/**
 * An OCI 1.1 artifact manifest referring to `subject` (empty config, the given layers), pushed by
 * digest, and added to the referrers tag fallback `sha256-<hex of subject>` (this registry has no
 * referrers API). Returns the artifact manifest's descriptor as listed in the fallback index.
 */
export async function pushReferrer(
  reg: TestRegistry,
  repo: string,
  subject: Descriptor,
  artifactType: string,
  layers: { mediaType: string; bytes: Buffer; annotations?: Record<string, string> }[],
  annotations: Record<string, string> = {},
  opts: { skipFallbackTag?: boolean } = {},
): Promise<Descriptor> {
  const config = await pushBlob(reg, repo, EMPTY_JSON, OCI_EMPTY);
  const layerDescs: Descriptor[] = [];
  for (const l of layers) {
    const d = await pushBlob(reg, repo, l.bytes, l.mediaType);
    layerDescs.push({ ...d, ...(l.annotations ? { annotations: l.annotations } : {}) });
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType,
    config,
    layers: layerDescs,
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
  const pushed = await pushManifest(reg, repo, undefined, manifest);
  const desc: Descriptor = {
    ...pushed,
    artifactType,
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
  if (opts.skipFallbackTag !== true) await addReferrerToFallbackTag(reg, repo, subject.digest, desc);
  return desc;
}

/** Read-modify-write of the referrers tag schema index at `sha256-<hex>` (what cosign/oras do without a referrers API). */
export async function addReferrerToFallbackTag(
  reg: TestRegistry,
  repo: string,
  subjectDigest: string,
  desc: Descriptor,
): Promise<void> {
  const tag = subjectDigest.replace(':', '-');
  const existing = await fetchManifest(reg, repo, tag);
  const index = existing
    ? (JSON.parse(existing.toString()) as { manifests: Descriptor[] })
    : { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] as Descriptor[] };
  index.manifests = [...index.manifests.filter((m) => m.digest !== desc.digest), desc];
  await pushManifest(reg, repo, tag, index, OCI_INDEX);
}
