// pald.yaml: load, validate and fill in SPEC §3 defaults. Every error names the
// file, the line and the key, so an operator can fix it without guessing.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isIP } from 'node:net';
import { isMap, isScalar, isSeq } from 'yaml';
import { describe, lineOf, parseYaml, type YamlSource } from '../shared/yaml-nodes.js';
import { DEFAULT_YAML_LIMITS } from '../shared/yaml-bounded.js';
import { labelProblem } from '../policy/index.js';
import { criAddressProblem } from '../identity/index.js';
import { identityProblem } from '../shared/x509-identity.js';
import { fileSafetyProblem } from '../store/file-safety.js';
import type {
  CosignConfig,
  CosignIdentityConfig,
  CosignPolicyConfig,
  LimitsConfig,
  NotationConfig,
  NotationPolicyConfig,
  NotaryCollectionConfig,
  NotaryConfig,
  PaldConfig,
  RedOctoberConfig,
  RegistryConfig,
  TrustConfig,
} from './types.js';

export type * from './types.js';

export const DEFAULT_CONFIG_PATH = '/etc/pal/pald.yaml';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly file: string,
    readonly line?: number,
    readonly key?: string,
  ) {
    super(message);
  }
}

export function defaultConfig(env: NodeJS.ProcessEnv = {}): PaldConfig {
  return {
    mountpoint: '/run/pal',
    manifest: '/etc/pal/secrets.yaml',
    keys: '/etc/pal/keys',
    docker: { host: env['DOCKER_HOST'] || 'unix:///var/run/docker.sock' },
    trust: {
      mode: 'notary',
      notary: { server: 'https://notary:4443', ca: '/etc/pal/notary-ca.pem', collections: [], timeoutMs: 10_000 },
    },
    admin: { socket: '/run/pald/admin.sock' },
    audit: { path: '/var/log/pal/audit.log' },
    host: { allowUids: [] },
    cache: { plaintextTtlMs: 5 * 60_000, plaintextMaxBytes: 64 * 1024 * 1024 },
    limits: { openHandlesPerContainer: 1024, lockedBytes: 64 * 1024 * 1024, secretBytes: 16 * 1024 * 1024 },
    metrics: { listen: '' },
    stateDir: '/var/lib/pal',
  };
}

/**
 * Loads pald.yaml. With no path the default path is tried and a missing file
 * means "all defaults"; a path given explicitly must exist.
 */
export async function loadConfig(file?: string, env: NodeJS.ProcessEnv = process.env): Promise<PaldConfig> {
  const explicit = file !== undefined;
  const configPath = path.resolve(file ?? DEFAULT_CONFIG_PATH);
  let text: string;
  try {
    await stat(configPath); // missing is not a File safety problem: defaults apply (below)
    // File safety (SPEC §3), checked before reading: also refuses a FIFO that would block the read.
    const unsafe = await fileSafetyProblem(configPath, { kind: 'config' });
    if (unsafe) throw new ConfigError(unsafe, configPath);
    text = await readFile(configPath, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (!explicit && code === 'ENOENT') return defaultConfig(env);
    throw new ConfigError(`${configPath}: cannot read config: ${(err as Error).message}`, configPath);
  }
  return parseConfig(configPath, text, env);
}

/** pald.yaml is a page of settings: anything near this size is a mistake or an attack. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Validates config text (exported for tests and `pald --check`). */
export function parseConfig(configPath: string, text: string, env: NodeJS.ProcessEnv = process.env): PaldConfig {
  const { source, errors } = parseYaml(configPath, text, { ...DEFAULT_YAML_LIMITS, maxBytes: MAX_CONFIG_BYTES });
  const first = errors[0];
  if (first) {
    const where = first.line === undefined ? configPath : `${configPath}:${first.line}`;
    throw new ConfigError(`${where}: YAML syntax error: ${first.message}`, configPath, first.line);
  }
  return new ConfigReader(source, path.dirname(configPath), env).read();
}

/**
 * `metrics.listen` split into host and port, or why it cannot be: "127.0.0.1:9477",
 * "[::1]:9477", "localhost:9477". Any address is accepted (operations.md: /metrics has no auth,
 * keep it on loopback).
 */
export function parseListen(value: string): { host: string; port: number } | string {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):([0-9]{1,5})$/.exec(value);
  if (!m) return `expected host:port (e.g. 127.0.0.1:9477, [::1]:9477) or "" for off, got "${value}"`;
  const host = m[1] ?? m[2]!;
  if (m[1] !== undefined && isIP(host) !== 6) return `"${host}" is not an IPv6 address`;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return `port must be 1..65535, got ${m[3]}`;
  return { host, port };
}

type Fields = Record<string, (node: unknown, key: string) => void>;

class ConfigReader {
  constructor(
    private readonly src: YamlSource,
    private readonly baseDir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  private fail(node: unknown, key: string, message: string): never {
    const line = lineOf(this.src, node);
    const where = line === undefined ? this.src.file : `${this.src.file}:${line}`;
    throw new ConfigError(`${where}: ${key}: ${message}`, this.src.file, line, key);
  }

  /** Walks a mapping: every key must be known; handlers see the value node. */
  private mapping(node: unknown, key: string, fields: Fields): void {
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return;
    if (!isMap(node)) this.fail(node, key, `expected a mapping, got ${describe(node)}`);
    for (const pair of node.items) {
      const k = isScalar(pair.key) ? pair.key.value : undefined;
      if (typeof k !== 'string') this.fail(pair.key, key, 'keys must be strings');
      const full = key ? `${key}.${k}` : k;
      // Own properties only: `toString:` or `__proto__:` must be unknown keys, not Object.prototype's.
      const handler = Object.hasOwn(fields, k) ? fields[k] : undefined;
      if (!handler) {
        this.fail(pair.key, full, `unknown key (expected one of: ${Object.keys(fields).join(', ')})`);
      }
      handler(pair.value, full);
    }
  }

  private isNull(node: unknown): boolean {
    return node === null || node === undefined || (isScalar(node) && node.value === null);
  }

  private string(node: unknown, key: string): string {
    if (!isScalar(node) || typeof node.value !== 'string' || node.value === '') {
      this.fail(node, key, `expected a non-empty string, got ${describe(node)}`);
    }
    return node.value;
  }

  private path(node: unknown, key: string): string {
    return path.resolve(this.baseDir, this.string(node, key));
  }

  private integer(node: unknown, key: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    if (!isScalar(node) || typeof node.value !== 'number' || !Number.isInteger(node.value)) {
      this.fail(node, key, `expected an integer, got ${describe(node)}`);
    }
    const v = node.value;
    if (v < min || v > max) this.fail(node, key, `must be between ${min} and ${max}, got ${v}`);
    return v;
  }

  private list<T>(node: unknown, key: string, item: (n: unknown, k: string) => T): T[] {
    if (this.isNull(node)) return [];
    if (!isSeq(node)) this.fail(node, key, `expected a list, got ${describe(node)}`);
    return node.items.map((n, i) => item(n, `${key}[${i}]`));
  }

  read(): PaldConfig {
    const d = defaultConfig(this.env);
    let mountpoint = d.mountpoint;
    let manifest = d.manifest;
    let keys = d.keys;
    let keyPassphraseFile: string | undefined;
    let dockerHost = d.docker.host;
    let criAddress: string | undefined;
    let trust: TrustConfig = d.trust;
    let redoctober: RedOctoberConfig | undefined;
    let adminSocket = d.admin.socket;
    let auditPath = d.audit.path;
    let allowUids: readonly number[] = d.host.allowUids;
    let cache = d.cache;
    let limits: LimitsConfig = d.limits;
    let stateDir = d.stateDir;
    let metricsListen = d.metrics.listen;

    this.mapping(this.src.doc.contents, '', {
      mountpoint: (n, k) => (mountpoint = this.path(n, k)),
      manifest: (n, k) => (manifest = this.path(n, k)),
      keys: (n, k) => (keys = this.path(n, k)),
      key_passphrase_file: (n, k) => (keyPassphraseFile = this.path(n, k)),
      docker: (n, k) =>
        this.mapping(n, k, {
          // "" turns Docker off (a Kubernetes node with only a CRI runtime).
          host: (v, vk) => (dockerHost = isScalar(v) && v.value === '' ? '' : this.string(v, vk)),
        }),
      cri: (n, k) =>
        this.mapping(n, k, {
          address: (v, vk) => {
            criAddress = this.string(v, vk);
            const problem = criAddressProblem(criAddress);
            if (problem !== undefined) this.fail(v, vk, problem);
          },
        }),
      trust: (n, k) => (trust = this.trust(n, k, d.trust)),
      redoctober: (n, k) => (redoctober = this.redoctober(n, k)),
      admin: (n, k) => this.mapping(n, k, { socket: (v, vk) => (adminSocket = this.path(v, vk)) }),
      audit: (n, k) =>
        this.mapping(n, k, {
          path: (v, vk) => {
            const p = this.string(v, vk);
            auditPath = p === '-' ? '-' : path.resolve(this.baseDir, p);
          },
        }),
      host: (n, k) =>
        this.mapping(n, k, {
          allow_uids: (v, vk) => (allowUids = this.list(v, vk, (i, ik) => this.integer(i, ik, 0, 0xffffffff))),
        }),
      cache: (n, k) => {
        let ttl = cache.plaintextTtlMs;
        let max = cache.plaintextMaxBytes;
        this.mapping(n, k, {
          plaintext_ttl_ms: (v, vk) => (ttl = this.integer(v, vk, 0)),
          plaintext_max_bytes: (v, vk) => (max = this.integer(v, vk, 0)),
        });
        cache = { plaintextTtlMs: ttl, plaintextMaxBytes: max };
      },
      limits: (n, k) => {
        let handles = limits.openHandlesPerContainer;
        let locked = limits.lockedBytes;
        let secret = limits.secretBytes;
        this.mapping(n, k, {
          open_handles_per_container: (v, vk) => (handles = this.integer(v, vk, 1, 1 << 20)),
          locked_bytes: (v, vk) => (locked = this.integer(v, vk, 4096)),
          secret_bytes: (v, vk) => (secret = this.integer(v, vk, 1, 1 << 30)),
        });
        if (secret > locked) this.fail(n, `${k}.secret_bytes`, `must not exceed limits.locked_bytes (${locked})`);
        limits = { openHandlesPerContainer: handles, lockedBytes: locked, secretBytes: secret };
      },
      state_dir: (n, k) => (stateDir = this.path(n, k)),
      metrics: (n, k) => this.mapping(n, k, { listen: (v, vk) => (metricsListen = this.listenAddress(v, vk)) }),
    });

    if (dockerHost === '' && criAddress === undefined) {
      this.fail(this.src.doc.contents, 'docker.host', 'is "" (off) and no cri.address is set: no runtime to ask');
    }
    return {
      mountpoint,
      manifest,
      keys,
      ...(keyPassphraseFile === undefined ? {} : { keyPassphraseFile }),
      docker: { host: dockerHost },
      ...(criAddress === undefined ? {} : { cri: { address: criAddress } }),
      trust,
      ...(redoctober === undefined ? {} : { redoctober }),
      admin: { socket: adminSocket },
      audit: { path: auditPath },
      host: { allowUids },
      cache,
      limits,
      metrics: { listen: metricsListen },
      stateDir,
    };
  }

  /** "" (off) or host:port with a literal IPv4, [IPv6] or a host name, and a port 1..65535. */
  private listenAddress(node: unknown, key: string): string {
    const v = this.string(node, key);
    if (v === '') return v;
    const parsed = parseListen(v);
    if (typeof parsed === 'string') this.fail(node, key, parsed);
    return v;
  }

  private trust(node: unknown, key: string, defaults: TrustConfig): TrustConfig {
    let mode = defaults.mode;
    let notary: NotaryConfig = defaults.notary!;
    let notation: NotationConfig | undefined;
    let cosign: CosignConfig | undefined;
    let registries: ReadonlyMap<string, RegistryConfig> | undefined;
    let recheckMs: number | undefined;
    this.mapping(node, key, {
      mode: (n, k) => {
        const v = this.string(n, k);
        // `signed` is the SPEC's name; `notary` stays accepted as its alias.
        if (v !== 'signed' && v !== 'notary' && v !== 'none') this.fail(n, k, `must be "signed" or "none", got "${v}"`);
        mode = v === 'none' ? 'none' : 'notary';
      },
      notary: (n, k) => (notary = this.notary(n, k, notary)),
      notation: (n, k) => (notation = this.notation(n, k)),
      cosign: (n, k) => (cosign = this.cosign(n, k)),
      registries: (n, k) => (registries = this.registries(n, k)),
      recheck_ms: (n, k) => (recheckMs = this.integer(n, k, 1_000)),
    });
    return {
      mode,
      notary,
      ...(notation !== undefined ? { notation } : {}),
      ...(cosign !== undefined ? { cosign } : {}),
      ...(registries !== undefined ? { registries } : {}),
      ...(recheckMs !== undefined ? { recheckMs } : {}),
    };
  }

  private notary(node: unknown, key: string, d: NotaryConfig): NotaryConfig {
    let server = d.server;
    let ca = d.ca;
    let collections: NotaryCollectionConfig[] = [];
    let timeoutMs = d.timeoutMs;
    this.mapping(node, key, {
      server: (n, k) => (server = this.url(n, k)),
      ca: (n, k) => (ca = this.path(n, k)),
      timeout_ms: (n, k) => (timeoutMs = this.integer(n, k, 1)),
      collections: (n, k) => (collections = this.list(n, k, (c, ck) => this.collection(c, ck))),
    });
    return { server, ...(ca === undefined ? {} : { ca }), collections, timeoutMs };
  }

  private collection(node: unknown, key: string): NotaryCollectionConfig {
    if (!isMap(node)) this.fail(node, key, `expected a mapping with gun, root_keys, grants, got ${describe(node)}`);
    let gun: string | undefined;
    let rootKeys: string[] = [];
    let rootThreshold = 1;
    let thresholdNode: unknown;
    let grants: string[] = [];
    const delegations = new Map<string, readonly string[]>();
    this.mapping(node, key, {
      gun: (n, k) => (gun = this.string(n, k)),
      root_keys: (n, k) => (rootKeys = this.list(n, k, (i, ik) => this.string(i, ik))),
      root_threshold: (n, k) => {
        thresholdNode = n;
        rootThreshold = this.integer(n, k, 1, 1000);
      },
      grants: (n, k) => (grants = this.list(n, k, (i, ik) => this.label(i, ik))),
      delegations: (n, k) => {
        if (this.isNull(n)) return;
        if (!isMap(n)) this.fail(n, k, `expected a mapping of role → labels, got ${describe(n)}`);
        for (const pair of n.items) {
          const role = isScalar(pair.key) ? pair.key.value : undefined;
          if (typeof role !== 'string' || !/^targets\/[A-Za-z0-9_./-]+$/.test(role)) {
            this.fail(pair.key, k, `delegated role names look like "targets/releases", got ${describe(pair.key)}`);
          }
          if (delegations.has(role)) this.fail(pair.key, `${k}.${role}`, 'listed twice');
          delegations.set(
            role,
            this.list(pair.value, `${k}.${role}`, (i, ik) => this.label(i, ik)),
          );
        }
      },
    });
    if (gun === undefined) this.fail(node, `${key}.gun`, 'missing');
    if (rootKeys.length === 0) this.fail(node, `${key}.root_keys`, 'at least one pinned root key id is required');
    if (rootThreshold > new Set(rootKeys).size) {
      this.fail(
        thresholdNode,
        `${key}.root_threshold`,
        `${rootThreshold} is more than the ${new Set(rootKeys).size} pinned root key(s)`,
      );
    }
    return { gun, rootKeys, rootThreshold, grants, delegations };
  }

  private label(node: unknown, key: string): string {
    const v = this.string(node, key);
    const problem = labelProblem(v);
    if (problem) this.fail(node, key, problem);
    return v;
  }

  private url(node: unknown, key: string): string {
    const v = this.string(node, key);
    try {
      new URL(v);
    } catch {
      this.fail(node, key, `not a URL: "${v}"`);
    }
    return v;
  }

  private redoctober(node: unknown, key: string): RedOctoberConfig {
    let server = 'https://redoctober:8080';
    let ca: string | undefined = '/etc/pal/ro-ca.pem';
    let user = 'host1';
    let passwordFile: string | undefined = '/etc/pal/ro-password';
    this.mapping(node, key, {
      server: (n, k) => (server = this.url(n, k)),
      ca: (n, k) => (ca = this.path(n, k)),
      user: (n, k) => (user = this.string(n, k)),
      password_file: (n, k) => (passwordFile = this.path(n, k)),
    });
    return { server, ca, user, passwordFile };
  }

  private notation(node: unknown, key: string): NotationConfig {
    let policies: NotationPolicyConfig[] = [];
    let timeoutMs = 10_000;
    let keepVerifiedMs = 10 * 60_000;
    this.mapping(node, key, {
      policies: (n, k) => (policies = this.list(n, k, (p, pk) => this.notationPolicy(p, pk))),
      timeout_ms: (n, k) => (timeoutMs = this.integer(n, k, 1)),
      keep_verified_ms: (n, k) => (keepVerifiedMs = this.integer(n, k, 0)),
    });
    return { policies, timeoutMs, keepVerifiedMs };
  }

  private notationPolicy(node: unknown, key: string): NotationPolicyConfig {
    if (!isMap(node)) this.fail(node, key, `expected a mapping with repository, trust_store, identities, grants`);
    let repository: string | undefined;
    let trustStore: string | undefined;
    let identities: string[] = [];
    let grants: string[] = [];
    this.mapping(node, key, {
      repository: (n, k) => (repository = this.string(n, k)),
      trust_store: (n, k) => (trustStore = this.path(n, k)),
      identities: (n, k) =>
        (identities = this.list(n, k, (i, ik) => {
          const v = this.string(i, ik);
          const problem = identityProblem(v);
          if (problem !== undefined) this.fail(i, ik, problem);
          return v;
        })),
      grants: (n, k) => (grants = this.list(n, k, (i, ik) => this.label(i, ik))),
    });
    if (repository === undefined) this.fail(node, `${key}.repository`, 'missing');
    if (trustStore === undefined) this.fail(node, `${key}.trust_store`, 'missing');
    if (identities.length === 0) this.fail(node, `${key}.identities`, 'at least one identity (or "*") is required');
    return { repository, trustStore, identities, grants };
  }

  private cosign(node: unknown, key: string): CosignConfig {
    let policies: CosignPolicyConfig[] = [];
    let timeoutMs = 10_000;
    let keepVerifiedMs = 10 * 60_000;
    this.mapping(node, key, {
      policies: (n, k) => (policies = this.list(n, k, (p, pk) => this.cosignPolicy(p, pk))),
      timeout_ms: (n, k) => (timeoutMs = this.integer(n, k, 1)),
      keep_verified_ms: (n, k) => (keepVerifiedMs = this.integer(n, k, 0)),
    });
    return { policies, timeoutMs, keepVerifiedMs };
  }

  private cosignPolicy(node: unknown, key: string): CosignPolicyConfig {
    if (!isMap(node)) this.fail(node, key, `expected a mapping with repository, keys and/or keyless, grants`);
    let repository: string | undefined;
    let keys: string[] = [];
    let keyless: CosignPolicyConfig['keyless'];
    let grants: string[] = [];
    this.mapping(node, key, {
      repository: (n, k) => (repository = this.string(n, k)),
      keys: (n, k) => (keys = this.list(n, k, (i, ik) => this.path(i, ik))),
      keyless: (n, k) => {
        let trustedRoot: string | undefined;
        let identities: CosignIdentityConfig[] = [];
        this.mapping(n, k, {
          trusted_root: (v, vk) => (trustedRoot = this.path(v, vk)),
          identities: (v, vk) => (identities = this.list(v, vk, (i, ik) => this.cosignIdentity(i, ik))),
        });
        if (trustedRoot === undefined) this.fail(n, `${k}.trusted_root`, 'missing (pald verifies offline)');
        if (identities.length === 0) this.fail(n, `${k}.identities`, 'at least one issuer + subject is required');
        keyless = { trustedRoot, identities };
      },
      grants: (n, k) => (grants = this.list(n, k, (i, ik) => this.label(i, ik))),
    });
    if (repository === undefined) this.fail(node, `${key}.repository`, 'missing');
    if (keys.length === 0 && keyless === undefined) this.fail(node, key, 'needs keys, keyless, or both');
    return { repository, keys, ...(keyless !== undefined ? { keyless } : {}), grants };
  }

  private cosignIdentity(node: unknown, key: string): CosignIdentityConfig {
    let issuer: string | undefined;
    let subject: string | undefined;
    let subjectRegexp: string | undefined;
    this.mapping(node, key, {
      issuer: (n, k) => (issuer = this.string(n, k)),
      subject: (n, k) => (subject = this.string(n, k)),
      subject_regexp: (n, k) => {
        subjectRegexp = this.string(n, k);
        try {
          new RegExp(subjectRegexp);
        } catch (e) {
          this.fail(n, k, `not a regular expression: ${(e as Error).message}`);
        }
      },
    });
    if (issuer === undefined) this.fail(node, `${key}.issuer`, 'missing');
    if ((subject === undefined) === (subjectRegexp === undefined)) {
      this.fail(node, key, 'needs exactly one of subject, subject_regexp');
    }
    return {
      issuer,
      ...(subject !== undefined ? { subject } : {}),
      ...(subjectRegexp !== undefined ? { subjectRegexp } : {}),
    };
  }

  private registries(node: unknown, key: string): ReadonlyMap<string, RegistryConfig> {
    const out = new Map<string, RegistryConfig>();
    if (this.isNull(node)) return out;
    if (!isMap(node)) this.fail(node, key, `expected a mapping of registry host → settings, got ${describe(node)}`);
    for (const pair of node.items) {
      const host = isScalar(pair.key) ? pair.key.value : undefined;
      if (
        typeof host !== 'string' ||
        !/^[A-Za-z0-9.-]+(?::[0-9]{1,5})?$|^\[[0-9A-Fa-f:]+\](?::[0-9]{1,5})?$/.test(host)
      ) {
        this.fail(
          pair.key,
          key,
          `expected a registry host like registry.example.com or 127.0.0.1:5000, got ${describe(pair.key)}`,
        );
      }
      const k = `${key}.${host}`;
      if (out.has(host)) this.fail(pair.key, k, 'listed twice');
      let ca: string | undefined;
      let auth: string | undefined;
      let insecure = false;
      this.mapping(pair.value, k, {
        ca: (v, vk) => (ca = this.path(v, vk)),
        auth: (v, vk) => (auth = this.path(v, vk)),
        insecure: (v, vk) => {
          if (!isScalar(v) || typeof v.value !== 'boolean')
            this.fail(v, vk, `expected true or false, got ${describe(v)}`);
          insecure = v.value;
          if (insecure && !/^(localhost|127\.[0-9.]+|\[::1\])(:[0-9]+)?$/.test(host)) {
            this.fail(v, vk, 'plain HTTP is allowed for loopback registries only');
          }
        },
      });
      out.set(host, {
        ...(ca !== undefined ? { ca } : {}),
        ...(auth !== undefined ? { auth } : {}),
        ...(insecure ? { insecure } : {}),
      });
    }
    return out;
  }
}
