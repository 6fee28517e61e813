// Shapes of Notary's TUF metadata files, parsed from hostile bytes into checked values.
// Anything missing, mistyped or out of range becomes a MetadataError naming the role and field.
import type { TufPublicKey } from './keys.js';

export class MetadataError extends Error {}

export interface SignatureEntry {
  readonly keyid: string;
  readonly method: string;
  readonly sig: Buffer;
}

/** A parsed `{"signed":…,"signatures":[…]}` document; `signed` is kept raw for canonical re-encoding. */
export interface SignedDocument {
  readonly signed: Record<string, unknown>;
  readonly signatures: readonly SignatureEntry[];
}

export interface RoleKeys {
  readonly keyids: readonly string[];
  readonly threshold: number;
}

export interface FileMeta {
  readonly length: number;
  /** Hash algorithm → digest bytes (TUF lists them base64). */
  readonly hashes: Readonly<Record<string, Buffer>>;
}

export interface CommonSigned {
  readonly version: number;
  /** Epoch ms. */
  readonly expires: number;
}

export interface RootSigned extends CommonSigned {
  readonly keys: Readonly<Record<string, TufPublicKey>>;
  readonly roles: Readonly<Record<'root' | 'targets' | 'snapshot' | 'timestamp', RoleKeys>>;
}

export interface TimestampSigned extends CommonSigned {
  readonly snapshot: FileMeta;
}

export interface SnapshotSigned extends CommonSigned {
  readonly meta: ReadonlyMap<string, FileMeta>;
}

export interface TargetEntry {
  readonly name: string;
  readonly length: number;
  readonly hashes: Readonly<Record<string, Buffer>>;
  readonly custom: unknown;
}

export interface DelegatedRole extends RoleKeys {
  readonly name: string;
  /** Target-name prefixes this role may sign ("" = all). */
  readonly paths: readonly string[];
}

export interface TargetsSigned extends CommonSigned {
  readonly targets: readonly TargetEntry[];
  readonly delegationKeys: Readonly<Record<string, TufPublicKey>>;
  readonly delegations: readonly DelegatedRole[];
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Reader {
  constructor(private readonly where: string) {}
  fail(msg: string): never {
    throw new MetadataError(`${this.where}: ${msg}`);
  }
  object(v: unknown, field: string): Json {
    if (!isObject(v)) this.fail(`${field} must be an object`);
    return v;
  }
  string(v: unknown, field: string): string {
    if (typeof v !== 'string') this.fail(`${field} must be a string`);
    return v;
  }
  int(v: unknown, field: string, min: number): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
      this.fail(`${field} must be an integer ≥ ${min}`);
    }
    return v;
  }
  array(v: unknown, field: string, max = 10_000): unknown[] {
    if (!Array.isArray(v)) this.fail(`${field} must be an array`);
    if (v.length > max) this.fail(`${field} has more than ${max} entries`);
    return v;
  }
  strings(v: unknown, field: string): string[] {
    return this.array(v, field).map((s, i) => this.string(s, `${field}[${i}]`));
  }
  base64(v: unknown, field: string): Buffer {
    const s = this.string(v, field);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) this.fail(`${field} is not standard base64`);
    return Buffer.from(s, 'base64');
  }
  hexId(v: unknown, field: string): string {
    const s = this.string(v, field);
    if (!/^[0-9a-f]{64}$/.test(s)) this.fail(`${field} is not a 64-hex-digit key id`);
    return s;
  }
  expires(v: unknown): number {
    const s = this.string(v, 'expires');
    // RFC 3339 (Notary writes UTC with nanoseconds; Date.parse keeps milliseconds).
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s))
      this.fail(`expires "${s}" is not an RFC 3339 time`);
    const ms = Date.parse(s);
    if (!Number.isFinite(ms)) this.fail(`expires "${s}" is not a valid time`);
    return ms;
  }
}

/** Parse the envelope. `role` names the file in errors. */
export function parseSignedDocument(bytes: Buffer, role: string): SignedDocument {
  const r = new Reader(role);
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    r.fail(`not valid JSON (${(e as Error).message})`);
  }
  const top = r.object(doc, 'document');
  const signed = r.object(top['signed'], 'signed');
  const signatures = r.array(top['signatures'], 'signatures', 100).map((s, i) => {
    const o = r.object(s, `signatures[${i}]`);
    return {
      keyid: r.hexId(o['keyid'], `signatures[${i}].keyid`),
      method: r.string(o['method'], `signatures[${i}].method`),
      sig: r.base64(o['sig'], `signatures[${i}].sig`),
    };
  });
  return { signed, signatures };
}

function common(r: Reader, signed: Json, type: string): CommonSigned {
  if (signed['_type'] !== type) r.fail(`_type must be "${type}", got ${JSON.stringify(signed['_type'] ?? null)}`);
  return { version: r.int(signed['version'], 'version', 0), expires: r.expires(signed['expires']) };
}

function keys(r: Reader, v: unknown, field: string): Record<string, TufPublicKey> {
  const o = r.object(v, field);
  const out: Record<string, TufPublicKey> = {};
  for (const [id, k] of Object.entries(o)) {
    r.hexId(id, `${field} id`);
    const ko = r.object(k, `${field}.${id}`);
    const keyval = r.object(ko['keyval'], `${field}.${id}.keyval`);
    out[id] = {
      keytype: r.string(ko['keytype'], `${field}.${id}.keytype`),
      public: r.base64(keyval['public'], `${field}.${id}.keyval.public`).toString('base64'),
    };
  }
  return out;
}

function roleKeys(r: Reader, v: unknown, field: string): RoleKeys {
  const o = r.object(v, field);
  const keyids = r.strings(o['keyids'], `${field}.keyids`);
  keyids.forEach((id, i) => r.hexId(id, `${field}.keyids[${i}]`));
  return { keyids, threshold: r.int(o['threshold'], `${field}.threshold`, 1) };
}

function fileMeta(r: Reader, v: unknown, field: string): FileMeta {
  const o = r.object(v, field);
  const hashesIn = r.object(o['hashes'], `${field}.hashes`);
  const hashes: Record<string, Buffer> = {};
  for (const [alg, h] of Object.entries(hashesIn)) hashes[alg] = r.base64(h, `${field}.hashes.${alg}`);
  return { length: r.int(o['length'], `${field}.length`, 0), hashes };
}

export function parseRoot(doc: SignedDocument): RootSigned {
  const r = new Reader('root');
  const base = common(r, doc.signed, 'Root');
  const rolesIn = r.object(doc.signed['roles'], 'roles');
  const roles = {
    root: roleKeys(r, rolesIn['root'], 'roles.root'),
    targets: roleKeys(r, rolesIn['targets'], 'roles.targets'),
    snapshot: roleKeys(r, rolesIn['snapshot'], 'roles.snapshot'),
    timestamp: roleKeys(r, rolesIn['timestamp'], 'roles.timestamp'),
  };
  return { ...base, keys: keys(r, doc.signed['keys'], 'keys'), roles };
}

export function parseTimestamp(doc: SignedDocument): TimestampSigned {
  const r = new Reader('timestamp');
  const base = common(r, doc.signed, 'Timestamp');
  const meta = r.object(doc.signed['meta'], 'meta');
  return { ...base, snapshot: fileMeta(r, meta['snapshot'], 'meta.snapshot') };
}

export function parseSnapshot(doc: SignedDocument): SnapshotSigned {
  const r = new Reader('snapshot');
  const base = common(r, doc.signed, 'Snapshot');
  const metaIn = r.object(doc.signed['meta'], 'meta');
  const meta = new Map<string, FileMeta>();
  for (const [role, m] of Object.entries(metaIn)) meta.set(role, fileMeta(r, m, `meta.${role}`));
  return { ...base, meta };
}

export function parseTargets(doc: SignedDocument, role: string): TargetsSigned {
  const r = new Reader(role);
  const base = common(r, doc.signed, 'Targets');
  const targetsIn = r.object(doc.signed['targets'], 'targets');
  const targets: TargetEntry[] = Object.entries(targetsIn).map(([name, t]) => {
    const o = r.object(t, `targets.${name}`);
    const meta = fileMeta(r, o, `targets.${name}`);
    return { name, length: meta.length, hashes: meta.hashes, custom: o['custom'] };
  });
  // Notary always writes `delegations`; an absent one means "no delegations", as in the Go client.
  const delIn =
    doc.signed['delegations'] === undefined
      ? { keys: {}, roles: [] }
      : r.object(doc.signed['delegations'], 'delegations');
  const delegations = r.array(delIn['roles'] ?? [], 'delegations.roles', 1000).map((d, i) => {
    const field = `delegations.roles[${i}]`;
    const o = r.object(d, field);
    const name = r.string(o['name'], `${field}.name`);
    if (o['path_hash_prefixes'] !== undefined && o['paths'] === undefined) {
      r.fail(`${field} (${name}) uses path_hash_prefixes, which pal does not support`);
    }
    return { ...roleKeys(r, o, field), name, paths: r.strings(o['paths'] ?? [], `${field}.paths`) };
  });
  return { ...base, targets, delegationKeys: keys(r, delIn['keys'] ?? {}, 'delegations.keys'), delegations };
}
