// pald.yaml `trust:`: the mode, Notary's pinned collections, and the registries signatures are fetched from.
// Notation and cosign policies are read by signature-sections.ts.
import { isMap, isScalar } from 'yaml';
import { describe } from '../shared/yaml-nodes.js';
import type { NodeReader } from './node-reader.js';
import { readCosign, readNotation } from './signature-sections.js';
import type {
  CosignConfig,
  NotaryCollectionConfig,
  NotaryConfig,
  NotationConfig,
  RegistryConfig,
  TrustConfig,
} from './types.js';

export function readTrust(r: NodeReader, node: unknown, key: string, defaults: TrustConfig): TrustConfig {
  let mode = defaults.mode;
  let notary: NotaryConfig = defaults.notary!;
  let notation: NotationConfig | undefined;
  let cosign: CosignConfig | undefined;
  let registries: ReadonlyMap<string, RegistryConfig> | undefined;
  r.mapping(node, key, {
    mode: (n, k) => {
      const v = r.string(n, k);
      // `signed` is the SPEC's name; `notary` stays accepted as its alias.
      if (v !== 'signed' && v !== 'notary' && v !== 'none') r.fail(n, k, `must be "signed" or "none", got "${v}"`);
      mode = v === 'none' ? 'none' : 'notary';
    },
    notary: (n, k) => (notary = readNotary(r, n, k, notary)),
    notation: (n, k) => (notation = readNotation(r, n, k)),
    cosign: (n, k) => (cosign = readCosign(r, n, k)),
    registries: (n, k) => (registries = readRegistries(r, n, k)),
  });
  return {
    mode,
    notary,
    ...(notation !== undefined ? { notation } : {}),
    ...(cosign !== undefined ? { cosign } : {}),
    ...(registries !== undefined ? { registries } : {}),
  };
}

function readNotary(r: NodeReader, node: unknown, key: string, d: NotaryConfig): NotaryConfig {
  let server = d.server;
  let ca = d.ca;
  let collections: NotaryCollectionConfig[] = [];
  let timeoutMs = d.timeoutMs;
  r.mapping(node, key, {
    server: (n, k) => (server = r.url(n, k)),
    ca: (n, k) => (ca = r.path(n, k)),
    timeout_ms: (n, k) => (timeoutMs = r.integer(n, k, 1)),
    collections: (n, k) => (collections = r.list(n, k, (c, ck) => readCollection(r, c, ck))),
  });
  return { server, ...(ca === undefined ? {} : { ca }), collections, timeoutMs };
}

function readCollection(r: NodeReader, node: unknown, key: string): NotaryCollectionConfig {
  if (!isMap(node)) r.fail(node, key, `expected a mapping with gun, root_keys, grants, got ${describe(node)}`);
  let gun: string | undefined;
  let rootKeys: string[] = [];
  let rootThreshold = 1;
  let thresholdNode: unknown;
  let grants: string[] = [];
  let delegations = new Map<string, readonly string[]>();
  r.mapping(node, key, {
    gun: (n, k) => (gun = r.string(n, k)),
    root_keys: (n, k) => (rootKeys = r.list(n, k, (i, ik) => r.string(i, ik))),
    root_threshold: (n, k) => {
      thresholdNode = n;
      rootThreshold = r.integer(n, k, 1, 1000);
    },
    grants: (n, k) => (grants = r.list(n, k, (i, ik) => r.label(i, ik))),
    delegations: (n, k) => (delegations = readDelegations(r, n, k)),
  });
  if (gun === undefined) r.fail(node, `${key}.gun`, 'missing');
  if (rootKeys.length === 0) r.fail(node, `${key}.root_keys`, 'at least one pinned root key id is required');
  if (rootThreshold > new Set(rootKeys).size) {
    r.fail(
      thresholdNode,
      `${key}.root_threshold`,
      `${rootThreshold} is more than the ${new Set(rootKeys).size} pinned root key(s)`,
    );
  }
  return { gun, rootKeys, rootThreshold, grants, delegations };
}

/** A collection's delegated roles, each with the labels it may grant. */
function readDelegations(r: NodeReader, node: unknown, key: string): Map<string, readonly string[]> {
  const delegations = new Map<string, readonly string[]>();
  if (r.isNull(node)) return delegations;
  if (!isMap(node)) r.fail(node, key, `expected a mapping of role → labels, got ${describe(node)}`);
  for (const pair of node.items) {
    const role = isScalar(pair.key) ? pair.key.value : undefined;
    if (typeof role !== 'string' || !/^targets\/[A-Za-z0-9_./-]+$/.test(role)) {
      r.fail(pair.key, key, `delegated role names look like "targets/releases", got ${describe(pair.key)}`);
    }
    if (delegations.has(role)) r.fail(pair.key, `${key}.${role}`, 'listed twice');
    delegations.set(
      role,
      r.list(pair.value, `${key}.${role}`, (i, ik) => r.label(i, ik)),
    );
  }
  return delegations;
}

function readRegistries(r: NodeReader, node: unknown, key: string): ReadonlyMap<string, RegistryConfig> {
  const out = new Map<string, RegistryConfig>();
  if (r.isNull(node)) return out;
  if (!isMap(node)) r.fail(node, key, `expected a mapping of registry host → settings, got ${describe(node)}`);
  for (const pair of node.items) {
    const host = isScalar(pair.key) ? pair.key.value : undefined;
    if (
      typeof host !== 'string' ||
      !/^[A-Za-z0-9.-]+(?::[0-9]{1,5})?$|^\[[0-9A-Fa-f:]+\](?::[0-9]{1,5})?$/.test(host)
    ) {
      r.fail(
        pair.key,
        key,
        `expected a registry host like registry.example.com or 127.0.0.1:5000, got ${describe(pair.key)}`,
      );
    }
    const k = `${key}.${host}`;
    if (out.has(host)) r.fail(pair.key, k, 'listed twice');
    out.set(host, readRegistry(r, pair.value, k, host));
  }
  return out;
}

function readRegistry(r: NodeReader, node: unknown, key: string, host: string): RegistryConfig {
  let ca: string | undefined;
  let auth: string | undefined;
  let insecure = false;
  r.mapping(node, key, {
    ca: (v, vk) => (ca = r.path(v, vk)),
    auth: (v, vk) => (auth = r.path(v, vk)),
    insecure: (v, vk) => {
      if (!isScalar(v) || typeof v.value !== 'boolean') r.fail(v, vk, `expected true or false, got ${describe(v)}`);
      insecure = v.value;
      if (insecure && !/^(localhost|127\.[0-9.]+|\[::1\])(:[0-9]+)?$/.test(host)) {
        r.fail(v, vk, 'plain HTTP is allowed for loopback registries only');
      }
    },
  });
  return {
    ...(ca !== undefined ? { ca } : {}),
    ...(auth !== undefined ? { auth } : {}),
    ...(insecure ? { insecure } : {}),
  };
}
