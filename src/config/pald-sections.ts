// pald.yaml's top level: each section read by a small reader of its own, over SPEC §3's defaults.
// `trust:` is read by trust-section.ts.
import { isScalar } from 'yaml';
import { criAddressProblem } from '../identity/index.js';
import { defaultConfig } from './defaults.js';
import type { NodeReader } from './node-reader.js';
import { readTrust } from './trust-section.js';
import type { LimitsConfig, PaldConfig, RedOctoberConfig } from './types.js';

type Draft = { -readonly [K in keyof PaldConfig]: PaldConfig[K] };

export function readPaldConfig(r: NodeReader, env: NodeJS.ProcessEnv): PaldConfig {
  const d = defaultConfig(env);
  const c: Draft = { ...d };
  r.mapping(r.src.doc.contents, '', {
    mountpoint: (n, k) => (c.mountpoint = r.path(n, k)),
    manifest: (n, k) => (c.manifest = r.path(n, k)),
    keys: (n, k) => (c.keys = r.path(n, k)),
    key_passphrase_file: (n, k) => (c.keyPassphraseFile = r.path(n, k)),
    docker: (n, k) =>
      r.mapping(n, k, {
        // "" turns Docker off (a Kubernetes node with only a CRI runtime).
        host: (v, vk) => (c.docker = { host: isScalar(v) && v.value === '' ? '' : r.string(v, vk) }),
      }),
    cri: (n, k) => r.mapping(n, k, { address: (v, vk) => (c.cri = { address: readCriAddress(r, v, vk) }) }),
    trust: (n, k) => (c.trust = readTrust(r, n, k, d.trust)),
    redoctober: (n, k) => (c.redoctober = readRedOctober(r, n, k)),
    admin: (n, k) => r.mapping(n, k, { socket: (v, vk) => (c.admin = { socket: r.path(v, vk) }) }),
    audit: (n, k) =>
      r.mapping(n, k, {
        path: (v, vk) => {
          const p = r.string(v, vk);
          c.audit = { path: p === '-' ? '-' : r.resolve(p) };
        },
      }),
    host: (n, k) =>
      r.mapping(n, k, {
        allow_uids: (v, vk) => (c.host = { allowUids: r.list(v, vk, (i, ik) => r.integer(i, ik, 0, 0xffffffff)) }),
      }),
    cache: (n, k) => (c.cache = readCache(r, n, k, c.cache)),
    limits: (n, k) => (c.limits = readLimits(r, n, k, c.limits)),
    state_dir: (n, k) => (c.stateDir = r.path(n, k)),
    metrics: (n, k) => r.mapping(n, k, { listen: (v, vk) => (c.metrics = { listen: r.listenAddress(v, vk) }) }),
    image_secrets: (n, k) =>
      r.mapping(n, k, {
        pal_environment: (v, vk) => (c.imageSecrets = { palEnvironment: readPalEnvironment(r, v, vk) }),
      }),
  });

  if (c.docker.host === '' && c.cri === undefined) {
    r.fail(r.src.doc.contents, 'docker.host', 'is "" (off) and no cri.address is set: no runtime to ask');
  }
  return {
    mountpoint: c.mountpoint,
    manifest: c.manifest,
    keys: c.keys,
    ...(c.keyPassphraseFile === undefined ? {} : { keyPassphraseFile: c.keyPassphraseFile }),
    docker: c.docker,
    ...(c.cri === undefined ? {} : { cri: c.cri }),
    trust: c.trust,
    ...(c.redoctober === undefined ? {} : { redoctober: c.redoctober }),
    admin: c.admin,
    audit: c.audit,
    host: c.host,
    cache: c.cache,
    limits: c.limits,
    metrics: c.metrics,
    imageSecrets: c.imageSecrets,
    stateDir: c.stateDir,
  };
}

/** A PAL environment name as PAL's own -env flag took it: one printable word, no path or control characters. */
function readPalEnvironment(r: NodeReader, node: unknown, key: string): string {
  const name = r.string(node, key);
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(name)) r.fail(node, key, 'must be 1 to 128 characters of A-Z a-z 0-9 . _ -');
  return name;
}

function readCriAddress(r: NodeReader, node: unknown, key: string): string {
  const address = r.string(node, key);
  const problem = criAddressProblem(address);
  if (problem !== undefined) r.fail(node, key, problem);
  return address;
}

function readCache(r: NodeReader, node: unknown, key: string, d: PaldConfig['cache']): PaldConfig['cache'] {
  let ttl = d.plaintextTtlMs;
  let max = d.plaintextMaxBytes;
  r.mapping(node, key, {
    plaintext_ttl_ms: (v, vk) => (ttl = r.integer(v, vk, 0)),
    plaintext_max_bytes: (v, vk) => (max = r.integer(v, vk, 0)),
  });
  return { plaintextTtlMs: ttl, plaintextMaxBytes: max };
}

function readLimits(r: NodeReader, node: unknown, key: string, d: LimitsConfig): LimitsConfig {
  let handles = d.openHandlesPerContainer;
  let locked = d.lockedBytes;
  let secret = d.secretBytes;
  r.mapping(node, key, {
    open_handles_per_container: (v, vk) => (handles = r.integer(v, vk, 1, 1 << 20)),
    locked_bytes: (v, vk) => (locked = r.integer(v, vk, 4096)),
    secret_bytes: (v, vk) => (secret = r.integer(v, vk, 1, 1 << 30)),
  });
  if (secret > locked) r.fail(node, `${key}.secret_bytes`, `must not exceed limits.locked_bytes (${locked})`);
  return { openHandlesPerContainer: handles, lockedBytes: locked, secretBytes: secret };
}

function readRedOctober(r: NodeReader, node: unknown, key: string): RedOctoberConfig {
  let server = 'https://redoctober:8080';
  let ca: string | undefined = '/etc/pal/ro-ca.pem';
  let user = 'host1';
  let passwordFile: string | undefined = '/etc/pal/ro-password';
  r.mapping(node, key, {
    server: (n, k) => (server = r.url(n, k)),
    ca: (n, k) => (ca = r.path(n, k)),
    user: (n, k) => (user = r.string(n, k)),
    password_file: (n, k) => (passwordFile = r.path(n, k)),
  });
  return { server, ca, user, passwordFile };
}
