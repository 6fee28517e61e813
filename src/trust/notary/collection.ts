// Fetch and verify one Notary collection (GUN) the TUF way:
//   root (pinned key ids, no trust on first use) → timestamp → snapshot → targets → delegations,
// checking signatures with thresholds over canonical JSON, the hashes and lengths each parent names,
// expiry, and version rollback against the highest version seen before (persisted: ../state.ts).
import {
  checkFileMeta,
  checkFresh,
  checkSignatures,
  checkVersion,
  CollectionError,
  fetchBytes,
  invalid,
  parsed,
  short,
} from './chain-checks.js';
import { canonicalKeyId, certificateInfo, type TufPublicKey } from './keys.js';
import {
  parseRoot,
  parseSignedDocument,
  parseSnapshot,
  parseTargets,
  parseTimestamp,
  type RoleKeys,
  type RootSigned,
  type SnapshotSigned,
  type TargetsSigned,
} from './metadata.js';
import type { MetadataSource } from './source.js';
import { VersionStateError, type CollectionVersions, type VersionStore } from '../state.js';

export { CollectionError, type CollectionFailure } from './chain-checks.js';

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

const MAX_ROOT_BYTES = 1 << 20;
const MAX_TIMESTAMP_BYTES = 1 << 20;
const MAX_DELEGATED_ROLES = 32;
const MAX_DELEGATION_DEPTH = 4;
const ROLE_NAME = /^targets(\/[A-Za-z0-9_.-]+)+$/;

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
  const { root, rootBytes } = await verifyRoot(args, versions);

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

  const targets = new TargetsWalk(args, versions, snap, Math.min(root.expires, ts.expires, snap.expires));
  return targets.verify(root);
}

/** Root: trusted only through keys pinned in the config. */
async function verifyRoot(
  args: LoadCollectionArgs,
  versions: CollectionVersions,
): Promise<{ root: RootSigned; rootBytes: Buffer }> {
  const { gun, source, now } = args;
  const rootBytes = await fetchBytes(source, gun, 'root', MAX_ROOT_BYTES);
  const rootDoc = parsed(() => parseSignedDocument(rootBytes, 'root'));
  const root = parsed(() => parseRoot(rootDoc));
  const { pinned, described, refused } = pinnedRootKeys(root, args.rootPins, gun, now);
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
  return { root, rootBytes };
}

/** root.json's root keys that are pinned and usable now; all of them described, and why pinned ones were refused. */
function pinnedRootKeys(
  root: RootSigned,
  rootPins: readonly string[],
  gun: string,
  now: number,
): { pinned: string[]; described: string[]; refused: string[] } {
  const pins = new Set(rootPins.map((p) => p.toLowerCase()));
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
  return { pinned, described, refused };
}

/** Targets and its delegations, depth first in listed order, each bounded by its parent's paths. */
class TargetsWalk {
  private readonly targets: VerifiedTarget[] = [];
  private readonly problems: string[] = [];
  private visited = 0;

  constructor(
    private readonly args: LoadCollectionArgs,
    private readonly versions: CollectionVersions,
    private readonly snap: SnapshotSigned,
    /** Earliest expiry so far; lowered by every role loaded. */
    private expiresAt: number,
  ) {}

  async verify(root: RootSigned): Promise<VerifiedCollection> {
    const top = await this.loadRole('targets', root.keys, root.roles.targets);
    if (top === undefined) throw invalid('snapshot does not list targets');
    this.collect('targets', top, null);
    await this.walk('targets', top, null, 0);
    return { gun: this.args.gun, expiresAt: this.expiresAt, targets: this.targets, problems: this.problems };
  }

  private async loadRole(
    role: string,
    keys: Readonly<Record<string, TufPublicKey>>,
    spec: RoleKeys,
  ): Promise<TargetsSigned | undefined> {
    const meta = this.snap.meta.get(role);
    if (meta === undefined) {
      if (role === 'targets') throw invalid('snapshot does not list targets');
      return undefined; // a delegation nobody has published to yet signs nothing
    }
    const bytes = await fetchBytes(this.args.source, this.args.gun, role, meta.length);
    checkFileMeta(role, 'snapshot', bytes, meta);
    const doc = parsed(() => parseSignedDocument(bytes, role));
    const t = parsed(() => parseTargets(doc, role));
    checkSignatures(role, doc, keys, spec);
    checkFresh(role, t.expires, this.args.now);
    checkVersion(this.versions, role, t.version);
    this.expiresAt = Math.min(this.expiresAt, t.expires);
    return t;
  }

  private collect(role: string, t: TargetsSigned, paths: readonly string[] | null): void {
    for (const target of t.targets) {
      if (paths !== null && !paths.some((p) => target.name.startsWith(p))) {
        this.problems.push(`${role}: target "${target.name}" is outside the role's delegated paths, ignored`);
        continue;
      }
      const sha = target.hashes['sha256'];
      if (sha === undefined || sha.length !== 32) continue;
      this.targets.push({
        role,
        name: target.name,
        sha256Hex: sha.toString('hex'),
        length: target.length,
        custom: target.custom,
      });
    }
  }

  private async walk(
    parent: string,
    t: TargetsSigned,
    parentPaths: readonly string[] | null,
    depth: number,
  ): Promise<void> {
    for (const d of t.delegations) {
      if (!ROLE_NAME.test(d.name) || !d.name.startsWith(parent + '/')) {
        this.problems.push(`${parent}: delegation "${d.name}" is not a valid child role name, ignored`);
        continue;
      }
      if (depth >= MAX_DELEGATION_DEPTH || this.visited >= MAX_DELEGATED_ROLES) {
        this.problems.push(`${d.name}: beyond pal's delegation limits, ignored`);
        continue;
      }
      this.visited++;
      const paths = d.paths.filter((p) => parentPaths === null || parentPaths.some((pp) => p.startsWith(pp)));
      if (paths.length < d.paths.length)
        this.problems.push(`${d.name}: paths outside ${parent}'s delegated paths dropped`);
      let child: TargetsSigned | undefined;
      try {
        child = await this.loadRole(d.name, t.delegationKeys, d);
      } catch (e) {
        if (e instanceof CollectionError && e.kind === 'unreachable') throw e;
        this.problems.push(`delegation ${d.name} rejected: ${(e as Error).message}`);
        continue;
      }
      if (child === undefined) continue;
      this.collect(d.name, child, paths);
      await this.walk(d.name, child, paths, depth + 1);
    }
  }
}
