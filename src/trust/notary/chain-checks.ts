// The checks of one step of the TUF chain (collection.ts walks it): signatures with thresholds
// over canonical JSON, the length and hashes a parent role names, expiry, version rollback, and
// fetch and parse failures turned into CollectionError with its kind.
import { createHash } from 'node:crypto';
import { canonicalJsonBytes } from './canonical-json.js';
import { canonicalKeyId, keyId, KeyError, verifySignature, type TufPublicKey } from './keys.js';
import type { FileMeta, RoleKeys, SignedDocument } from './metadata.js';
import { FetchError, type MetadataSource } from './source.js';
import type { CollectionVersions } from '../state.js';

export type CollectionFailure = 'unreachable' | 'not-found' | 'invalid';

export class CollectionError extends Error {
  constructor(
    message: string,
    readonly kind: CollectionFailure,
  ) {
    super(message);
  }
}

/** Never accept a lower version than one verified before (rollback), then remember this one. */
export function checkVersion(versions: CollectionVersions, role: string, version: number): void {
  const prior = versions.highest(role);
  if (prior !== undefined && version < prior) {
    throw new CollectionError(
      `${role}: version ${version} is lower than version ${prior} seen before (rollback)`,
      'invalid',
    );
  }
  versions.record(role, version);
}

export function invalid(msg: string): CollectionError {
  return new CollectionError(msg, 'invalid');
}

export function short(id: string): string {
  return id.slice(0, 12);
}

function digest(alg: string, data: Buffer): Buffer | undefined {
  if (alg !== 'sha256' && alg !== 'sha512') return undefined;
  return createHash(alg).update(data).digest();
}

/** The served bytes must have exactly the length and hashes that the parent role signed. */
export function checkFileMeta(role: string, parent: string, bytes: Buffer, meta: FileMeta): void {
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

export interface SignatureRule {
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
export function checkSignatures(
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

export function checkFresh(role: string, expires: number, now: number): void {
  if (expires <= now) throw invalid(`${role}: expired at ${new Date(expires).toISOString()}`);
}

export async function fetchBytes(source: MetadataSource, gun: string, role: string, max: number): Promise<Buffer> {
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

export function parsed<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CollectionError) throw e;
    throw invalid((e as Error).message);
  }
}
