// Test helper: build signed Notary/TUF metadata ourselves, in the exact formats the real server
// writes (see shared/notes/notary.md), to serve expired, rolled-back or wrongly signed data.
import { execFile } from 'node:child_process';
import {
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  sign,
  constants,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { canonicalText } from '../../scripts/components/notary.js';

const run = promisify(execFile);

export interface TufKeyEntry {
  readonly keytype: string;
  readonly keyval: { readonly private: null; readonly public: string };
}

export interface CraftKey {
  readonly id: string;
  readonly entry: TufKeyEntry;
  readonly method: string;
  sign(data: Buffer): Buffer;
}

export function tufKeyId(entry: TufKeyEntry): string {
  return createHash('sha256').update(canonicalText(entry)).digest('hex');
}

function signerFor(key: KeyObject): { method: string; sign: (d: Buffer) => Buffer } {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return { method: 'ecdsa', sign: (d) => sign('sha256', d, { key, dsaEncoding: 'ieee-p1363' }) };
    case 'ed25519':
      return { method: 'eddsa', sign: (d) => sign(null, d, key) };
    case 'rsa':
      return {
        method: 'rsapss',
        sign: (d) => sign('sha256', d, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }),
      };
    default:
      throw new Error(`no signer for ${key.asymmetricKeyType}`);
  }
}

/** A private key plus the public entry a root/targets file lists for it. */
export function craftKeyFrom(privateKey: KeyObject, entry: TufKeyEntry): CraftKey {
  const s = signerFor(privateKey);
  return { id: tufKeyId(entry), entry, method: s.method, sign: s.sign };
}

export function generateKey(type: 'ecdsa' | 'ed25519' | 'rsa'): CraftKey {
  if (type === 'ed25519') {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
    return craftKeyFrom(privateKey, { keytype: 'ed25519', keyval: { private: null, public: raw.toString('base64') } });
  }
  const { privateKey, publicKey } =
    type === 'ecdsa'
      ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  return craftKeyFrom(privateKey, { keytype: type, keyval: { private: null, public: spki } });
}

/** An x509 key as Notary lists roots and delegations: base64 of the certificate's PEM text. */
export async function generateX509Key(
  type: 'ecdsa-x509' | 'rsa-x509',
  dir: string,
  commonName: string,
): Promise<CraftKey> {
  const name = commonName.replace(/[^A-Za-z0-9]/g, '_') + '-' + Math.random().toString(36).slice(2);
  const keyPath = path.join(dir, `${name}.key`);
  const certPath = path.join(dir, `${name}.crt`);
  const newkey =
    type === 'ecdsa-x509' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] : ['-newkey', 'rsa:2048'];
  await run('openssl', [
    'req',
    '-x509',
    ...newkey,
    '-nodes',
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-days',
    '30',
    '-subj',
    `/CN=${commonName.replace(/\//g, '\\/')}`,
  ]);
  const pem = await readFile(certPath);
  const key = createPrivateKey(await readFile(keyPath));
  return craftKeyFrom(key, { keytype: type, keyval: { private: null, public: pem.toString('base64') } });
}

/** `notary key list`'s id for an x509 key: the bare public key's id. */
export function canonicalIdOf(key: CraftKey): string {
  if (!key.entry.keytype.endsWith('-x509')) return key.id;
  const cert = new X509Certificate(Buffer.from(key.entry.keyval.public, 'base64'));
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  return tufKeyId({ keytype: key.entry.keytype.replace('-x509', ''), keyval: { private: null, public: spki } });
}

export function signDocument(signed: object, signers: readonly CraftKey[]): Buffer {
  const data = Buffer.from(canonicalText(signed), 'utf8');
  const signatures = signers.map((k) => ({ keyid: k.id, method: k.method, sig: k.sign(data).toString('base64') }));
  return Buffer.from(canonicalText({ signed, signatures }), 'utf8');
}

export function fileMeta(bytes: Buffer): { hashes: { sha256: string; sha512: string }; length: number } {
  return {
    hashes: {
      sha256: createHash('sha256').update(bytes).digest('base64'),
      sha512: createHash('sha512').update(bytes).digest('base64'),
    },
    length: bytes.length,
  };
}

export interface CraftTarget {
  readonly sha256Hex: string;
  readonly length?: number;
  readonly custom?: unknown;
}

export interface CraftDelegation {
  readonly name: string;
  readonly key: CraftKey;
  readonly paths: readonly string[];
  readonly targets: Record<string, CraftTarget>;
  readonly signers?: readonly CraftKey[];
  readonly expires?: string;
  readonly version?: number;
}

type Role = 'root' | 'timestamp' | 'snapshot' | 'targets';

export interface CraftSpec {
  readonly keys: Record<Role, CraftKey>;
  /** Who actually signs each role (default: its listed key). */
  readonly signers?: Partial<Record<Role, readonly CraftKey[]>>;
  readonly targets: Record<string, CraftTarget>;
  readonly delegations?: readonly CraftDelegation[];
  readonly expires?: Partial<Record<Role, string>>;
  readonly versions?: Partial<Record<Role, number>>;
  /** Extra root-listed keys (e.g. an old root key after rotation). */
  readonly extraRootKeys?: readonly CraftKey[];
  /** More keys listed for a role (beside keys[role]) and the role's threshold. */
  readonly moreRoleKeys?: Partial<Record<Role, readonly CraftKey[]>>;
  readonly thresholds?: Partial<Record<Role, number>>;
}

const FAR = '2099-01-01T00:00:00Z';

function targetEntries(targets: Record<string, CraftTarget>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, t] of Object.entries(targets)) {
    out[name] = {
      ...(t.custom !== undefined ? { custom: t.custom } : {}),
      hashes: { sha256: Buffer.from(t.sha256Hex, 'hex').toString('base64') },
      length: t.length ?? 1,
    };
  }
  return out;
}

/** Role name → file bytes of a complete, consistent collection. */
export function craftCollection(spec: CraftSpec): Map<string, Buffer> {
  const k = spec.keys;
  const signers = (r: Role) => spec.signers?.[r] ?? [k[r]];
  const files = new Map<string, Buffer>();
  const rootKeys: Record<string, TufKeyEntry> = {};
  const more = (r: Role) => spec.moreRoleKeys?.[r] ?? [];
  for (const key of [k.root, k.timestamp, k.snapshot, k.targets, ...(spec.extraRootKeys ?? [])])
    rootKeys[key.id] = key.entry;
  for (const r of ['root', 'timestamp', 'snapshot', 'targets'] as const)
    more(r).forEach((key) => (rootKeys[key.id] = key.entry));
  const role = (r: Role) => ({ keyids: [k[r].id, ...more(r).map((x) => x.id)], threshold: spec.thresholds?.[r] ?? 1 });
  const root = signDocument(
    {
      _type: 'Root',
      consistent_snapshot: false,
      expires: spec.expires?.root ?? FAR,
      keys: rootKeys,
      roles: { root: role('root'), snapshot: role('snapshot'), targets: role('targets'), timestamp: role('timestamp') },
      version: spec.versions?.root ?? 1,
    },
    signers('root'),
  );
  files.set('root', root);
  const delegations = spec.delegations ?? [];
  for (const d of delegations) {
    files.set(
      d.name,
      signDocument(
        {
          _type: 'Targets',
          delegations: { keys: {}, roles: [] },
          expires: d.expires ?? FAR,
          targets: targetEntries(d.targets),
          version: d.version ?? 1,
        },
        d.signers ?? [d.key],
      ),
    );
  }
  const delegationKeys: Record<string, TufKeyEntry> = {};
  delegations.forEach((d) => (delegationKeys[d.key.id] = d.key.entry));
  const targets = signDocument(
    {
      _type: 'Targets',
      delegations: {
        keys: delegationKeys,
        roles: delegations.map((d) => ({ keyids: [d.key.id], name: d.name, paths: d.paths, threshold: 1 })),
      },
      expires: spec.expires?.targets ?? FAR,
      targets: targetEntries(spec.targets),
      version: spec.versions?.targets ?? 2,
    },
    signers('targets'),
  );
  files.set('targets', targets);
  const meta: Record<string, unknown> = { root: fileMeta(root), targets: fileMeta(targets) };
  delegations.forEach((d) => (meta[d.name] = fileMeta(files.get(d.name)!)));
  const snapshot = signDocument(
    { _type: 'Snapshot', expires: spec.expires?.snapshot ?? FAR, meta, version: spec.versions?.snapshot ?? 2 },
    signers('snapshot'),
  );
  files.set('snapshot', snapshot);
  files.set(
    'timestamp',
    signDocument(
      {
        _type: 'Timestamp',
        expires: spec.expires?.timestamp ?? FAR,
        meta: { snapshot: fileMeta(snapshot) },
        version: spec.versions?.timestamp ?? 1,
      },
      signers('timestamp'),
    ),
  );
  return files;
}

/**
 * Replace some role files (e.g. with malformed bytes) and re-seal the chain above them: snapshot
 * names the new bytes and is re-signed, timestamp names the new snapshot. What an attacker holding
 * the snapshot and timestamp keys could serve; it lets tests reach the parsers behind the hash checks.
 */
export function resealCollection(
  files: Map<string, Buffer>,
  keys: { snapshot: CraftKey; timestamp: CraftKey },
  replace: Record<string, Buffer>,
): Map<string, Buffer> {
  const out = new Map(files);
  for (const [role, bytes] of Object.entries(replace)) out.set(role, bytes);
  if (!('snapshot' in replace)) {
    const snap = JSON.parse(out.get('snapshot')!.toString()).signed;
    for (const role of Object.keys(replace)) if (role !== 'timestamp') snap.meta[role] = fileMeta(out.get(role)!);
    out.set('snapshot', signDocument(snap, [keys.snapshot]));
  }
  if (!('timestamp' in replace)) {
    const ts = JSON.parse(out.get('timestamp')!.toString()).signed;
    ts.meta.snapshot = fileMeta(out.get('snapshot')!);
    out.set('timestamp', signDocument(ts, [keys.timestamp]));
  }
  return out;
}
