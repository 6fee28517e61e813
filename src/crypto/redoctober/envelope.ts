// What a Red October ciphertext says about itself before anything is decrypted: its labels, the
// pal secret name sealed among them, its owners and how many of them must delegate. pald reads
// this to authorise a caller *before* /decrypt, so that an unauthorised open never consumes a
// delegation use. The file is hostile input: every field is checked, sizes are bounded.
//
// Layout (golang-redoctober, "locked" form): base64 of
//   {"Version":-1,"Data":"<b64 inner JSON>","Signature":"<b64 HMAC>"}
// and the inner JSON carries Version, VaultId, Labels, KeySet [{Name:[a,b],Key}], KeySetRSA
// {owner:{Key}}, IV, Data. The HMAC is keyed by the vault: pald cannot check it, the server does
// at /decrypt *before* it touches a delegation, so a relabelled ciphertext fails there for free.
import { labelProblem } from '../../policy/index.js';
import { secretNameProblem } from '../../store/index.js';

/** The RO label pal seals the secret name in: outside pal's label grammar, so it is never a real label. */
export const NAME_LABEL_PREFIX = 'pal:name=';
const MAX_OWNERS = 64;
const MAX_OWNER_NAME = 128;
const MAX_LABELS = 1000;

export interface RoEnvelope {
  /** The pal secret name sealed in the labels. */
  readonly sealedName: string;
  /** pal labels sealed in the ciphertext (the name label excluded), sorted. */
  readonly sealedLabels: readonly string[];
  /** Accounts whose delegations can decrypt it, sorted. */
  readonly owners: readonly string[];
  /** How many distinct owners must delegate. */
  readonly minimum: number;
}

/** The exact label list `pal seal --ro` sends: the pal labels plus the name label. */
export function sealLabels(name: string, labels: readonly string[]): string[] {
  return [...labels, NAME_LABEL_PREFIX + name];
}

/** Strict base64 (no whitespace, no URL alphabet): Buffer.from would silently skip junk. */
export function strictBase64(value: unknown, what: string): Buffer {
  if (typeof value !== 'string') throw new Error(`${what} is not a string`);
  if (value.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw new Error(`${what} is not base64`);
  return Buffer.from(value, 'base64');
}

export function parseJsonObject(bytes: Uint8Array | string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new Error(`${what} is not JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

function ownerName(v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_OWNER_NAME || !/^[\x21-\x7e]+$/.test(v))
    throw new Error('an owner name is not a printable string of at most 128 characters');
  return v;
}

/** The ciphertext file's text: the base64 string Red October's /encrypt returned (surrounding whitespace allowed). */
export function ciphertextText(file: Uint8Array): string {
  return Buffer.from(file).toString('latin1').trim();
}

/**
 * Parses a ciphertext file; throws an Error with the reason on anything unexpected.
 * `palEntryName`: a Cloudflare PAL `ro:` value served under that name. PAL sealed no name label
 * (its labels are Red October's own, which PAL's server read in clear exactly like this before
 * /decrypt), so the name binding is absent, as for PAL pgp: entries: sealedName is the entry's
 * name. A `pal:name=` label there is refused: that is a `pal seal --ro` ciphertext, whose plaintext
 * is pal's payload, not a PAL value.
 */
export function parseEnvelope(file: Uint8Array, palEntryName?: string): RoEnvelope {
  const outer = parseJsonObject(strictBase64(ciphertextText(file), 'the Red October ciphertext'), 'the ciphertext');
  if (outer['Version'] !== -1) throw new Error(`unsupported ciphertext version ${JSON.stringify(outer['Version'])}`);
  strictBase64(outer['Signature'], 'the ciphertext signature');
  const inner = parseJsonObject(strictBase64(outer['Data'], 'the ciphertext data'), 'the ciphertext data');
  if (inner['Version'] !== 1) throw new Error(`unsupported inner version ${JSON.stringify(inner['Version'])}`);
  if (inner['Predicate'] !== undefined && inner['Predicate'] !== '')
    throw new Error('predicate (Shamir) ciphertexts are not supported');

  const rawLabels = inner['Labels'] ?? [];
  if (!Array.isArray(rawLabels) || rawLabels.length > MAX_LABELS) throw new Error('Labels is not a list of labels');
  let sealedName: string | undefined;
  const labels = new Set<string>();
  for (const l of rawLabels as unknown[]) {
    if (typeof l !== 'string') throw new Error('Labels holds a non-string');
    if (l.startsWith(NAME_LABEL_PREFIX)) {
      if (palEntryName !== undefined)
        throw new Error('a pal name label in a PAL ro: value (a `pal seal --ro` ciphertext belongs in secrets.yaml)');
      const name = l.slice(NAME_LABEL_PREFIX.length);
      if (sealedName !== undefined) throw new Error('more than one sealed name');
      if (secretNameProblem(name)) throw new Error('the sealed name is not a valid secret name');
      sealedName = name;
      continue;
    }
    const problem = labelProblem(l);
    if (problem) throw new Error(`sealed label: ${problem}`);
    labels.add(l);
  }
  if (palEntryName !== undefined) sealedName = palEntryName;
  if (sealedName === undefined) throw new Error('no sealed pal name (not sealed with pal seal --ro)');
  if (labels.size === 0) throw new Error('no sealed labels');

  const keySetRsa = inner['KeySetRSA'];
  if (typeof keySetRsa !== 'object' || keySetRsa === null || Array.isArray(keySetRsa))
    throw new Error('KeySetRSA is not a mapping of owners');
  const owners = Object.keys(keySetRsa).map(ownerName).sort();
  if (owners.length === 0 || owners.length > MAX_OWNERS) throw new Error(`${owners.length} owners (1 to 64 expected)`);

  const keySet = inner['KeySet'];
  if (!Array.isArray(keySet) || keySet.length === 0 || keySet.length > (MAX_OWNERS * (MAX_OWNERS - 1)) / 2)
    throw new Error('KeySet is not a list of owner combinations');
  let minimum: number | undefined;
  for (const k of keySet as unknown[]) {
    const names = (k as { Name?: unknown } | null)?.Name;
    if (!Array.isArray(names) || names.length === 0 || names.length > 2) throw new Error('a KeySet entry has no names');
    for (const n of names) if (!owners.includes(ownerName(n))) throw new Error('a KeySet entry names a non-owner');
    if (minimum !== undefined && minimum !== names.length) throw new Error('KeySet entries disagree on the minimum');
    minimum = names.length;
  }
  return { sealedName, sealedLabels: [...labels].sort(), owners, minimum: minimum! };
}

/**
 * An upper bound of a PAL ro: value's size, read from the ciphertext without decrypting: Red
 * October's inner Data is the AES-CBC ciphertext of the value plus 1 to 16 bytes of padding; a
 * ro+base64: value is 3/4 of that. The file size under /run/pal until the first decrypt, which
 * learns the exact one (a read stops early at the end; the kernel needs a size not below the real
 * one, or it ends reads there).
 */
export function palRoSizeBound(file: Uint8Array, valueIsBase64: boolean): number {
  const outer = parseJsonObject(strictBase64(ciphertextText(file), 'the Red October ciphertext'), 'the ciphertext');
  const inner = parseJsonObject(strictBase64(outer['Data'], 'the ciphertext data'), 'the ciphertext data');
  const data = strictBase64(inner['Data'], 'the encrypted data').length;
  const value = Math.max(0, data - 1);
  return valueIsBase64 ? Math.floor((value * 3) / 4) : value;
}
