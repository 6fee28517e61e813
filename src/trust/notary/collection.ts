// Fetch and verify one Notary collection (GUN) the TUF way:
//   root (pinned key ids, no trust on first use) → timestamp → snapshot → targets → delegations,
// checking signatures with thresholds over canonical JSON, the hashes and lengths each parent names,
// expiry, and version rollback against the highest version seen before (persisted: ../state.ts).
import { createHash } from 'node:crypto';
import { canonicalJsonBytes } from './canonical-json.js';
import { canonicalKeyId, certificateInfo, keyId, KeyError, verifySignature, type TufPublicKey } from './keys.js';
import {
  parseRoot,
  parseSignedDocument,
  parseSnapshot,
  parseTargets,
  parseTimestamp,
  type FileMeta,
  type RoleKeys,
  type SignedDocument,
  type TargetsSigned,
} from './metadata.js';
import { FetchError, type MetadataSource } from './source.js';
import { VersionStateError, type CollectionVersions, type VersionStore } from '../state.js';

export type CollectionFailure = 'unreachable' | 'not-found' | 'invalid';

export class CollectionError extends Error {
  constructor(
    message: string,
    readonly kind: CollectionFailure,
  ) {
    super(message);
  }
}

export interface VerifiedTarget {
  /** TUF role that signed it: "targets" or a delegation such as "targets/releases". */
  readonly role: string;
  readonly name: string;
  readonly sha256Hex: string;
  readonly length: number;
  readonly custom: unknown;
}

export interface VerifiedCollection {
  readonly gun: string;
  /** Earliest expiry (epoch ms) of any metadata this result rests on. */
  readonly expiresAt: number;
  readonly targets: readonly VerifiedTarget[];
  /** Delegations rejected and targets ignored, with why. */
  readonly problems: readonly string[];
}

/** Never accept a lower version than one verified before (rollback), then remember this one. */
function checkVersion(versions: CollectionVersions, role: string, version: number): void {
  const prior = versions.highest(role);
  if (prior !== undefined && version < prior) {
    throw new CollectionError(
      `${role}: version ${version} is lower than version ${prior} seen before (rollback)`,
      'invalid',
    );
  }
  versions.record(role, version);
}

const MAX_ROOT_BYTES = 1 << 20;
const MAX_TIMESTAMP_BYTES = 1 << 20;
const MAX_DELEGATED_ROLES = 32;
const MAX_DELEGATION_DEPTH = 4;
const ROLE_NAME = /^targets(\/[A-Za-z0-9_.-]+)+$/;

function invalid(msg: string): CollectionError {
  return new CollectionError(msg, 'invalid');
}

function short(id: string): string {
  return id.slice(0, 12);
}

function digest(alg: string, data: Buffer): Buffer | undefined {
  if (alg !== 'sha256' && alg !== 'sha512') return undefined;
  return createHash(alg).update(data).digest();
}

/** The served bytes must have exactly the length and hashes that the parent role signed. */
function checkFileMeta(role: string, parent: string, bytes: Buffer, meta: FileMeta): void {
  if (bytes.length !== meta.length) {
    throw invalid(`${role}: ${bytes.length} bytes served, ${parent} says ${meta.length}`);
  }
  let checked = 0;
  for (const [alg, expected] of Object.entries(meta.hashes)) {
    const actual = digest(alg, bytes);
    if (actual === undefined) continue;
    checked++;
    if (!actual.equals(expected))
      throw invalid(`${role}: ${alg} hash does not match the one ${parent} names (tampered or inconsistent metadata)`);
  }
  if (checked === 0) throw invalid(`${role}: ${parent} names no sha256/sha512 hash for it`);
}

interface SignatureRule {
  /** Keys whose signatures count. */
  readonly keyids: readonly string[];
  readonly threshold: number;
  /** Keys of the role that do not count (root keys that are not pinned), for the message. */
  readonly notCounted?: readonly string[];
  /** Said when the threshold is not met. */
  readonly note?: string | undefined;
}

/**
 * At least `threshold` distinct keys among `keyids` must have signed the canonical form of `signed`.
 * Keys are told apart by their canonical id (the bare public key), so one key listed twice — under
 * its certificate id and its own id, say — counts once.
 */
function checkSignatures(
  role: string,
  doc: SignedDocument,
  keys: Readonly<Record<string, TufPublicKey>>,
  rule: RoleKeys | SignatureRule,
): void {
  let data: Buffer;
  try {
    data = canonicalJsonBytes(doc.signed);
  } catch (e) {
    throw invalid(`${role}: cannot be put in canonical form: ${(e as Error).message}`);
  }
  const notCounted = 'notCounted' in rule ? (rule.notCounted ?? []) : [];
  const tried = new Set<string>();
  const validKeys = new Set<string>();
  const notes: string[] = [];
  for (const s of doc.signatures) {
    if (tried.has(s.keyid)) continue;
    tried.add(s.keyid);
    if (!rule.keyids.includes(s.keyid)) {
      notes.push(
        notCounted.includes(s.keyid)
          ? `signature by ${role} key ${short(s.keyid)} which is not pinned`
          : `signature by key ${short(s.keyid)} which is not a ${role} key`,
      );
      continue;
    }
    const key = keys[s.keyid];
    if (key === undefined) {
      notes.push(`key ${short(s.keyid)} is not listed`);
      continue;
    }
    try {
      if (keyId(key) !== s.keyid) notes.push(`key listed as ${short(s.keyid)} has a different id`);
      else if (!verifySignature(key, s.method, s.sig, data))
        notes.push(`bad ${s.method} signature by key ${short(s.keyid)}`);
      else {
        const canonical = canonicalKeyId(key);
        if (validKeys.has(canonical)) notes.push(`key ${short(s.keyid)} is a key that already signed, listed again`);
        validKeys.add(canonical);
      }
    } catch (e) {
      notes.push(e instanceof KeyError ? `key ${short(s.keyid)}: ${e.message}` : `key ${short(s.keyid)}: ${String(e)}`);
    }
  }
  if (validKeys.size < rule.threshold) {
    if ('note' in rule && rule.note !== undefined) notes.push(rule.note);
    const detail = notes.length > 0 ? notes.join('; ') : 'no signatures';
    throw invalid(`${role}: ${validKeys.size} valid signature(s), threshold ${rule.threshold} (${detail})`);
  }
}

function checkFresh(role: string, expires: number, now: number): void {
  if (expires <= now) throw invalid(`${role}: expired at ${new Date(expires).toISOString()}`);
}

export interface LoadCollectionArgs {
  readonly gun: string;
  /** Pinned root key ids (certificate or canonical). */
  readonly rootPins: readonly string[];
  /** Distinct pinned root keys that must sign root.json (root_threshold), whatever root.json says. */
  readonly rootThreshold: number;
  readonly source: MetadataSource;
  /** Highest versions seen before, per collection (rollback protection). */
  readonly versions: VersionStore;
  readonly now: number;
}

async function fetchBytes(source: MetadataSource, gun: string, role: string, max: number): Promise<Buffer> {
  try {
    return await source.fetchRole(gun, role, max);
  } catch (e) {
    if (e instanceof FetchError) {
      if (e.kind === 'unreachable') throw new CollectionError(e.message, 'unreachable');
      if (e.kind === 'not-found' && role === 'root')
        throw new CollectionError(`no trust data for ${gun} on the notary server`, 'not-found');
      throw invalid(e.message);
    }
    throw invalid(`${role}: ${(e as Error).message}`);
  }
}

function parsed<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CollectionError) throw e;
    throw invalid((e as Error).message);
  }
}

export async function loadCollection(args: LoadCollectionArgs): Promise<VerifiedCollection> {
  let versions: CollectionVersions;
  try {
    versions = await args.versions.open(args.gun);
  } catch (e) {
    throw invalid(e instanceof VersionStateError ? e.message : `trust state: ${String(e)}`);
  }
  let result: VerifiedCollection;
  try {
    result = await verifyChain(args, versions);
  } catch (e) {
    // Roles verified before the failure were still verified: remember them (best effort).
    await versions.save().catch(() => {});
    throw e;
  }
  try {
    // Durable before anything is granted on it, or a restart could be fed older metadata.
    await versions.save();
  } catch (e) {
    throw invalid(e instanceof VersionStateError ? e.message : `trust state: ${String(e)}`);
  }
  return result;
}

async function verifyChain(args: LoadCollectionArgs, versions: CollectionVersions): Promise<VerifiedCollection> {
  const { gun, source, now } = args;
  const pins = new Set(args.rootPins.map((p) => p.toLowerCase()));

  // Root: trusted only through keys pinned in the config.
  const rootBytes = await fetchBytes(source, gun, 'root', MAX_ROOT_BYTES);
  const rootDoc = parsed(() => parseSignedDocument(rootBytes, 'root'));
  const root = parsed(() => parseRoot(rootDoc));
  const pinned: string[] = [];
  const described: string[] = [];
  const refused: string[] = [];
  for (const id of root.roles.root.keyids) {
    const key = root.keys[id];
    if (key === undefined) continue;
    let canonical: string;
    try {
      canonical = canonicalKeyId(key);
    } catch (e) {
      described.push(`${short(id)}: ${(e as Error).message}`);
      continue;
    }
    described.push(canonical === id ? short(id) : `${short(canonical)} (certificate id ${short(id)})`);
    if (!pins.has(id) && !pins.has(canonical)) continue;
    const cert = parsed(() => certificateInfo(key));
    if (cert !== undefined && (now < cert.notBefore || now > cert.notAfter)) {
      refused.push(
        `pinned root certificate ${short(id)} is not valid now (valid ${new Date(cert.notBefore).toISOString()} to ${new Date(cert.notAfter).toISOString()})`,
      );
      continue;
    }
    // As in Notary: a root certificate speaks only for the collection named in its CN.
    if (cert !== undefined && cert.commonName !== gun) {
      refused.push(`pinned root certificate ${short(id)} is for "${cert.commonName ?? ''}", not ${gun}`);
      continue;
    }
    pinned.push(id);
  }
  if (refused.length > 0 && pinned.length === 0) throw invalid(`root: ${refused.join('; ')}`);
  if (pinned.length === 0) {
    throw invalid(
      `root: none of its root keys [${described.join(', ')}] is pinned in root_keys (a rotated or foreign root?)`,
    );
  }
  // TUF's own rule (root.json's threshold) and the operator's floor (root_threshold), both counted
  // over distinct pinned keys only: root.json cannot lower what the config demands.
  const configured = args.rootThreshold;
  if (!Number.isSafeInteger(configured) || configured < 1)
    throw invalid(`root: root_threshold ${String(configured)} is not an integer ≥ 1`);
  checkSignatures('root', rootDoc, root.keys, {
    keyids: pinned,
    threshold: Math.max(configured, root.roles.root.threshold),
    notCounted: root.roles.root.keyids,
    note:
      [
        ...(configured > root.roles.root.threshold
          ? [
              `root_threshold ${configured} needs that many distinct pinned root keys, whatever root.json's threshold ${root.roles.root.threshold} says`,
            ]
          : []),
        ...refused,
      ].join('; ') || undefined,
  });
  checkFresh('root', root.expires, now);
  checkVersion(versions, 'root', root.version);

  // Timestamp: names the one snapshot that is current.
  const tsBytes = await fetchBytes(source, gun, 'timestamp', MAX_TIMESTAMP_BYTES);
  const tsDoc = parsed(() => parseSignedDocument(tsBytes, 'timestamp'));
  const ts = parsed(() => parseTimestamp(tsDoc));
  checkSignatures('timestamp', tsDoc, root.keys, root.roles.timestamp);
  checkFresh('timestamp', ts.expires, now);
  checkVersion(versions, 'timestamp', ts.version);

  // Snapshot: names the exact bytes of root, targets and every delegated role.
  const snapBytes = await fetchBytes(source, gun, 'snapshot', ts.snapshot.length);
  checkFileMeta('snapshot', 'timestamp', snapBytes, ts.snapshot);
  const snapDoc = parsed(() => parseSignedDocument(snapBytes, 'snapshot'));
  const snap = parsed(() => parseSnapshot(snapDoc));
  checkSignatures('snapshot', snapDoc, root.keys, root.roles.snapshot);
  checkFresh('snapshot', snap.expires, now);
  checkVersion(versions, 'snapshot', snap.version);
  const rootMeta = snap.meta.get('root');
  if (rootMeta !== undefined) checkFileMeta('root', 'snapshot', rootBytes, rootMeta);

  let expiresAt = Math.min(root.expires, ts.expires, snap.expires);
  const targetsOut: VerifiedTarget[] = [];
  const problems: string[] = [];

  async function loadTargetsRole(
    role: string,
    keys: Readonly<Record<string, TufPublicKey>>,
    spec: RoleKeys,
  ): Promise<TargetsSigned | undefined> {
    const meta = snap.meta.get(role);
    if (meta === undefined) {
      if (role === 'targets') throw invalid('snapshot does not list targets');
      return undefined; // a delegation nobody has published to yet signs nothing
    }
    const bytes = await fetchBytes(source, gun, role, meta.length);
    checkFileMeta(role, 'snapshot', bytes, meta);
    const doc = parsed(() => parseSignedDocument(bytes, role));
    const t = parsed(() => parseTargets(doc, role));
    checkSignatures(role, doc, keys, spec);
    checkFresh(role, t.expires, now);
    checkVersion(versions, role, t.version);
    expiresAt = Math.min(expiresAt, t.expires);
    return t;
  }

  function collect(role: string, t: TargetsSigned, paths: readonly string[] | null): void {
    for (const target of t.targets) {
      if (paths !== null && !paths.some((p) => target.name.startsWith(p))) {
        problems.push(`${role}: target "${target.name}" is outside the role's delegated paths, ignored`);
        continue;
      }
      const sha = target.hashes['sha256'];
      if (sha === undefined || sha.length !== 32) continue;
      targetsOut.push({
        role,
        name: target.name,
        sha256Hex: sha.toString('hex'),
        length: target.length,
        custom: target.custom,
      });
    }
  }

  const top = await loadTargetsRole('targets', root.keys, root.roles.targets);
  if (top === undefined) throw invalid('snapshot does not list targets');
  collect('targets', top, null);

  // Delegations, depth first in listed order, each bounded by its parent's paths.
  let visited = 0;
  async function walk(
    parent: string,
    t: TargetsSigned,
    parentPaths: readonly string[] | null,
    depth: number,
  ): Promise<void> {
    for (const d of t.delegations) {
      if (!ROLE_NAME.test(d.name) || !d.name.startsWith(parent + '/')) {
        problems.push(`${parent}: delegation "${d.name}" is not a valid child role name, ignored`);
        continue;
      }
      if (depth >= MAX_DELEGATION_DEPTH || visited >= MAX_DELEGATED_ROLES) {
        problems.push(`${d.name}: beyond pal's delegation limits, ignored`);
        continue;
      }
      visited++;
      const paths = d.paths.filter((p) => parentPaths === null || parentPaths.some((pp) => p.startsWith(pp)));
      if (paths.length < d.paths.length) problems.push(`${d.name}: paths outside ${parent}'s delegated paths dropped`);
      let child: TargetsSigned | undefined;
      try {
        child = await loadTargetsRole(d.name, t.delegationKeys, d);
      } catch (e) {
        if (e instanceof CollectionError && e.kind === 'unreachable') throw e;
        problems.push(`delegation ${d.name} rejected: ${(e as Error).message}`);
        continue;
      }
      if (child === undefined) continue;
      collect(d.name, child, paths);
      await walk(d.name, child, paths, depth + 1);
    }
  }
  await walk('targets', top, null, 0);

  return { gun, expiresAt, targets: targetsOut, problems };
}
