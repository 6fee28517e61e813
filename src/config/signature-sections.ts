// pald.yaml `trust.notation:` and `trust.cosign:`: per-repository policies of who must have signed an image,
// and the labels a verified image is granted.
import { isMap } from 'yaml';
import { identityProblem } from '../shared/x509-identity.js';
import type { NodeReader } from './node-reader.js';
import type {
  CosignConfig,
  CosignIdentityConfig,
  CosignPolicyConfig,
  NotationConfig,
  NotationPolicyConfig,
} from './types.js';

/** The shape notation and cosign share: a list of policies, a fetch timeout, how long a verification holds. */
function readPolicies<P>(
  r: NodeReader,
  node: unknown,
  key: string,
  policy: (n: unknown, k: string) => P,
): { policies: P[]; timeoutMs: number; keepVerifiedMs: number } {
  let policies: P[] = [];
  let timeoutMs = 10_000;
  let keepVerifiedMs = 10 * 60_000;
  r.mapping(node, key, {
    policies: (n, k) => (policies = r.list(n, k, policy)),
    timeout_ms: (n, k) => (timeoutMs = r.integer(n, k, 1)),
    keep_verified_ms: (n, k) => (keepVerifiedMs = r.integer(n, k, 0)),
  });
  return { policies, timeoutMs, keepVerifiedMs };
}

export function readNotation(r: NodeReader, node: unknown, key: string): NotationConfig {
  return readPolicies(r, node, key, (p, pk) => readNotationPolicy(r, p, pk));
}

export function readCosign(r: NodeReader, node: unknown, key: string): CosignConfig {
  return readPolicies(r, node, key, (p, pk) => readCosignPolicy(r, p, pk));
}

function readNotationPolicy(r: NodeReader, node: unknown, key: string): NotationPolicyConfig {
  if (!isMap(node)) r.fail(node, key, `expected a mapping with repository, trust_store, identities, grants`);
  let repository: string | undefined;
  let trustStore: string | undefined;
  let identities: string[] = [];
  let grants: string[] = [];
  r.mapping(node, key, {
    repository: (n, k) => (repository = r.string(n, k)),
    trust_store: (n, k) => (trustStore = r.path(n, k)),
    identities: (n, k) =>
      (identities = r.list(n, k, (i, ik) => {
        const v = r.string(i, ik);
        const problem = identityProblem(v);
        if (problem !== undefined) r.fail(i, ik, problem);
        return v;
      })),
    grants: (n, k) => (grants = r.list(n, k, (i, ik) => r.label(i, ik))),
  });
  if (repository === undefined) r.fail(node, `${key}.repository`, 'missing');
  if (trustStore === undefined) r.fail(node, `${key}.trust_store`, 'missing');
  if (identities.length === 0) r.fail(node, `${key}.identities`, 'at least one identity (or "*") is required');
  return { repository, trustStore, identities, grants };
}

function readCosignPolicy(r: NodeReader, node: unknown, key: string): CosignPolicyConfig {
  if (!isMap(node)) r.fail(node, key, `expected a mapping with repository, keys and/or keyless, grants`);
  let repository: string | undefined;
  let keys: string[] = [];
  let keyless: CosignPolicyConfig['keyless'];
  let grants: string[] = [];
  r.mapping(node, key, {
    repository: (n, k) => (repository = r.string(n, k)),
    keys: (n, k) => (keys = r.list(n, k, (i, ik) => r.path(i, ik))),
    keyless: (n, k) => (keyless = readKeyless(r, n, k)),
    grants: (n, k) => (grants = r.list(n, k, (i, ik) => r.label(i, ik))),
  });
  if (repository === undefined) r.fail(node, `${key}.repository`, 'missing');
  if (keys.length === 0 && keyless === undefined) r.fail(node, key, 'needs keys, keyless, or both');
  return { repository, keys, ...(keyless !== undefined ? { keyless } : {}), grants };
}

function readKeyless(r: NodeReader, node: unknown, key: string): NonNullable<CosignPolicyConfig['keyless']> {
  let trustedRoot: string | undefined;
  let identities: CosignIdentityConfig[] = [];
  r.mapping(node, key, {
    trusted_root: (v, vk) => (trustedRoot = r.path(v, vk)),
    identities: (v, vk) => (identities = r.list(v, vk, (i, ik) => readCosignIdentity(r, i, ik))),
  });
  if (trustedRoot === undefined) r.fail(node, `${key}.trusted_root`, 'missing (pald verifies offline)');
  if (identities.length === 0) r.fail(node, `${key}.identities`, 'at least one issuer + subject is required');
  return { trustedRoot, identities };
}

function readCosignIdentity(r: NodeReader, node: unknown, key: string): CosignIdentityConfig {
  let issuer: string | undefined;
  let subject: string | undefined;
  let subjectRegexp: string | undefined;
  r.mapping(node, key, {
    issuer: (n, k) => (issuer = r.string(n, k)),
    subject: (n, k) => (subject = r.string(n, k)),
    subject_regexp: (n, k) => {
      subjectRegexp = r.string(n, k);
      try {
        new RegExp(subjectRegexp);
      } catch (e) {
        r.fail(n, k, `not a regular expression: ${(e as Error).message}`);
      }
    },
  });
  if (issuer === undefined) r.fail(node, `${key}.issuer`, 'missing');
  if ((subject === undefined) === (subjectRegexp === undefined)) {
    r.fail(node, key, 'needs exactly one of subject, subject_regexp');
  }
  return {
    issuer,
    ...(subject !== undefined ? { subject } : {}),
    ...(subjectRegexp !== undefined ? { subjectRegexp } : {}),
  };
}
