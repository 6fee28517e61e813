// One entry of secrets.yaml: its fields checked, its ciphertext found inside the manifest's directory (or
// among the image's files) and fingerprinted. A bad entry is an EntryProblem: the entry is skipped; a File
// safety refusal rejects the whole manifest version (manifest.ts decides which).
import { createHash } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, isSeq } from 'yaml';
import { describe, lineOf, type YamlSource } from '../shared/yaml-nodes.js';
import { labelProblem, parseMode } from './names.js';
import { fileSafetyProblem, readRegularFile } from './file-safety.js';
import type { BackendName, ManifestEntry } from './types.js';

/** Ciphertexts are small; a bigger file is refused rather than read into memory. */
export const MAX_CIPHERTEXT_BYTES = 16 * 1024 * 1024;

export class EntryProblem extends Error {
  constructor(
    message: string,
    readonly line: number | undefined,
    /** A File safety refusal: the whole manifest is rejected, not just this entry. */
    readonly safety = false,
  ) {
    super(message);
  }
}

/**
 * Ciphertexts already in memory, by absolute path: an image's /etc/pal read through the runtime's
 * API (store/image). The manifest's paths are looked up here; nothing is read from disk.
 */
export interface InMemoryCiphertexts {
  readonly files: ReadonlyMap<string, Buffer>;
  /** The image id the files came from, recorded on each entry. */
  readonly image: string;
}

export interface EntryContext {
  readonly dir: string;
  readonly realDir: string;
  readonly referenced: string[];
  readonly safeDirs: Set<string>;
  readonly inMemory: InMemoryCiphertexts | undefined;
}

/** Throws the entry's problem at a node (or, when it has no line, at the entry's name). */
type Bad = (node: unknown, message: string) => never;

interface EntryFields {
  file: { node: unknown; value: string; backend: BackendName };
  labels: string[];
  namespaces?: string[];
  mode: number;
  size?: number;
  cacheTtlMs?: number;
}

function labelsOf(v: unknown, bad: Bad): string[] {
  if (!isSeq(v)) bad(v, `labels: expected a list, got ${describe(v)}`);
  const labels: string[] = [];
  for (const item of (v as { items: unknown[] }).items) {
    if (!isScalar(item) || typeof item.value !== 'string') bad(item, `labels: expected strings, got ${describe(item)}`);
    const label = (item as { value: string }).value;
    const p = labelProblem(label);
    if (p) bad(item, `labels: ${p}`);
    if (!labels.includes(label)) labels.push(label);
  }
  return labels;
}

function namespacesOf(v: unknown, bad: Bad): string[] {
  if (!isSeq(v)) bad(v, `namespaces: expected a list, got ${describe(v)}`);
  const namespaces: string[] = [];
  for (const item of (v as { items: unknown[] }).items) {
    const ns = isScalar(item) ? item.value : undefined;
    // A Kubernetes namespace name is a DNS-1123 label.
    if (typeof ns !== 'string' || !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(ns))
      bad(item, `namespaces: expected Kubernetes namespace names (DNS-1123 labels), got ${describe(item)}`);
    if (!namespaces.includes(ns)) namespaces.push(ns);
  }
  // An empty list would admit no pod at all: almost certainly a mistake, so refuse it.
  if (namespaces.length === 0) bad(v, 'namespaces: must list at least one namespace (omit the key for any)');
  return namespaces;
}

function modeOf(v: unknown, bad: Bad): number {
  // YAML reads `mode: 0400` as the integer 400; its source text is what the operator meant.
  const text = isScalar(v)
    ? typeof v.value === 'string'
      ? v.value
      : typeof v.value === 'number'
        ? (v.source ?? String(v.value))
        : undefined
    : undefined;
  const parsed = text === undefined ? undefined : parseMode(text);
  if (parsed === undefined)
    bad(
      v,
      `mode: expected an octal mode like "0400" (at most 0777), got ${text === undefined ? describe(v) : `"${text}"`}`,
    );
  return parsed;
}

function sizeOf(v: unknown, bad: Bad): number {
  if (!isScalar(v) || typeof v.value !== 'number' || !Number.isSafeInteger(v.value) || v.value < 0)
    bad(v, `size: expected a non-negative integer, got ${describe(v)}`);
  return (v as { value: number }).value;
}

function cacheTtlOf(v: unknown, bad: Bad): number {
  const ttl = isScalar(v) ? parseCacheTtl(v.value) : undefined;
  if (ttl === undefined)
    bad(v, `cache: expected seconds (0 = decrypt at every open) or a duration like "30s", "5m", got ${describe(v)}`);
  return ttl;
}

/** The entry's keys, each checked; unknown keys, a missing file/ro and missing labels are problems. */
function entryFields(node: unknown, keyNode: unknown, bad: Bad): EntryFields {
  if (!isMap(node)) bad(node, `expected a mapping with file/ro, labels, mode, got ${describe(node)}`);
  let file: EntryFields['file'] | undefined;
  let labels: string[] | undefined;
  const fields: Omit<EntryFields, 'file' | 'labels'> = { mode: 0o400 };
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    const v = pair.value;
    switch (key) {
      case 'file':
      case 'ro': {
        const backend: BackendName = key === 'file' ? 'openpgp' : 'redoctober';
        if (file) bad(pair.key, `give exactly one of "file" (OpenPGP) or "ro" (Red October)`);
        if (!isScalar(v) || typeof v.value !== 'string' || v.value === '')
          bad(v, `${key}: expected a file path, got ${describe(v)}`);
        file = { node: v, value: (v as { value: string }).value, backend };
        break;
      }
      case 'labels':
        labels = labelsOf(v, bad);
        break;
      case 'namespaces':
        fields.namespaces = namespacesOf(v, bad);
        break;
      case 'mode':
        fields.mode = modeOf(v, bad);
        break;
      case 'size':
        fields.size = sizeOf(v, bad);
        break;
      case 'cache':
        fields.cacheTtlMs = cacheTtlOf(v, bad);
        break;
      default:
        bad(pair.key, `unknown key "${String(key)}" (expected file or ro, labels, namespaces, mode, size, cache)`);
    }
  }
  if (!file) bad(keyNode, `missing "file" (OpenPGP ciphertext) or "ro" (Red October ciphertext)`);
  if (!labels || labels.length === 0)
    bad(keyNode, `"labels" must list at least one label (a secret without labels would be open to every container)`);
  return { file: file, labels: labels, ...fields };
}

export async function readEntry(
  src: YamlSource,
  name: string,
  keyNode: unknown,
  node: unknown,
  { dir, realDir, referenced, safeDirs, inMemory }: EntryContext,
): Promise<ManifestEntry> {
  // Problems with the entry as a whole point at its name; others at the offending value.
  const bad: Bad = (n, message) => {
    throw new EntryProblem(message, lineOf(src, n) ?? lineOf(src, keyNode));
  };
  const { file: f, labels, namespaces, mode, size, cacheTtlMs } = entryFields(node, keyNode, bad);
  const ciphertextPath = path.resolve(dir, f.value);
  const rel = path.relative(dir, ciphertextPath);
  referenced.push(ciphertextPath);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel))
    bad(f.node, `${f.value}: path must stay inside the manifest directory ${dir}`);
  const fields = {
    name,
    labels,
    ...(namespaces !== undefined ? { namespaces } : {}),
    mode,
    backend: f.backend,
    ...(size === undefined ? {} : { size }),
    ...(cacheTtlMs === undefined ? {} : { cacheTtlMs }),
  };
  if (inMemory) {
    const bytes = inMemory.files.get(ciphertextPath);
    if (bytes === undefined) bad(f.node, `${f.value}: ciphertext file not found in the image`);
    const version = createHash('sha256').update(bytes).digest('hex');
    const bound = sizeBoundOf(fields, bytes.length);
    return { ...fields, ...bound, ciphertextPath, version, mtimeMs: 0, ciphertext: bytes, image: inMemory.image };
  }
  let real: string;
  try {
    real = await realpath(ciphertextPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return bad(
      f.node,
      code === 'ENOENT' ? `${f.value}: ciphertext file not found` : `${f.value}: ${(err as Error).message}`,
    );
  }
  const realRel = path.relative(realDir, real);
  if (realRel === '' || realRel.startsWith('..') || path.isAbsolute(realRel))
    bad(f.node, `${f.value}: resolves (through a symlink) outside the manifest directory`);
  const print = await fingerprint(real).catch((err: Error) => bad(f.node, `${f.value}: ${err.message}`));
  const { version, mtimeMs } = print;
  const unsafe = await fileSafetyProblem(ciphertextPath, { kind: 'ciphertext', safeDirs });
  if (unsafe) throw new EntryProblem(unsafe, lineOf(src, f.node) ?? lineOf(src, keyNode), true);
  return { ...fields, ...sizeBoundOf(fields, print.bytes.length), ciphertextPath: real, version, mtimeMs };
}

/**
 * A Red October entry without `size:`: its ciphertext's length bounds its plaintext (AES-CBC
 * under base64 and JSON, never compressed). An OpenPGP message may be compressed: no bound.
 */
function sizeBoundOf(fields: { backend: BackendName; size?: number }, ciphertextBytes: number): { sizeBound?: number } {
  return fields.backend === 'redoctober' && fields.size === undefined ? { sizeBound: ciphertextBytes } : {};
}

/** Largest per-secret plaintext cache TTL: a day (a longer one would outlive any delegation). */
const MAX_CACHE_TTL_MS = 24 * 3600_000;
const TTL_UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3600_000 };

/** `cache:` of an entry: integer seconds or "<n>s|m|h"; undefined when malformed or out of range. */
export function parseCacheTtl(value: unknown): number | undefined {
  let ms: number | undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) ms = value * 1000;
  else if (typeof value === 'string') {
    const m = /^(\d{1,6})([smh])$/.exec(value);
    if (m) ms = Number(m[1]) * TTL_UNIT_MS[m[2]!]!;
  }
  return ms !== undefined && ms <= MAX_CACHE_TTL_MS ? ms : undefined;
}

/**
 * sha256 and mtime of a ciphertext file. `file` is already resolved (realpath): a FIFO, device or
 * symlink found there now is refused before any blocking open (O_NONBLOCK|O_NOFOLLOW, fstat
 * checked against lstat), and so is an oversized file.
 */
async function fingerprint(
  file: string,
  maxBytes = MAX_CIPHERTEXT_BYTES,
): Promise<{ version: string; mtimeMs: number; bytes: Buffer }> {
  let read: Awaited<ReturnType<typeof readRegularFile>>;
  try {
    read = await readRegularFile(file, maxBytes);
  } catch (err) {
    const m = (err as Error).message;
    throw new Error(m.startsWith('larger than') ? `ciphertext ${m}` : m);
  }
  return {
    version: createHash('sha256').update(read.bytes).digest('hex'),
    mtimeMs: read.stats.mtimeMs,
    bytes: read.bytes,
  };
}
