// Parses and validates secrets.yaml. Hostile input: every problem becomes a
// ManifestProblem with a line number; a bad entry is skipped, the rest served.
import { createHash } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, isSeq, type YAMLMap } from 'yaml';
import { DEFAULT_YAML_LIMITS } from '../shared/yaml-bounded.js';
import { describe, lineOf, parseYaml, type YamlSource } from '../shared/yaml-nodes.js';
import { labelProblem, parseMode, secretNameProblem } from './names.js';
import { fileSafetyProblem, readRegularFile } from './file-safety.js';
import type { BackendName, ManifestEntry, ManifestProblem } from './types.js';

/** Ciphertexts are small; a bigger file is refused rather than read into memory. */
export const MAX_CIPHERTEXT_BYTES = 16 * 1024 * 1024;

export type ManifestParse =
  | {
      readonly ok: true;
      readonly entries: Map<string, ManifestEntry>;
      readonly problems: ManifestProblem[];
      /** Every ciphertext path the manifest names (valid or not): a missing one may appear later. */
      readonly referenced: string[];
    }
  /** The whole manifest is unusable (syntax error, wrong shape): keep the last good one. */
  | { readonly ok: false; readonly problems: ManifestProblem[] };

class EntryProblem extends Error {
  constructor(
    message: string,
    readonly line: number | undefined,
    /** A File safety refusal: the whole manifest is rejected, not just this entry. */
    readonly safety = false,
  ) {
    super(message);
  }
}

/** A manifest is policy, not data: anything this big is a mistake or an attack. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/**
 * Ciphertexts already in memory, by absolute path: an image's /etc/pal read through the runtime's
 * API (store/image). The manifest's paths are looked up here; nothing is read from disk.
 */
export interface InMemoryCiphertexts {
  readonly files: ReadonlyMap<string, Buffer>;
  /** The image id the files came from, recorded on each entry. */
  readonly image: string;
}

export async function parseManifest(
  file: string,
  text: string,
  inMemory?: InMemoryCiphertexts,
): Promise<ManifestParse> {
  if (Buffer.byteLength(text) > MAX_MANIFEST_BYTES) {
    return { ok: false, problems: [{ file, message: `manifest larger than ${MAX_MANIFEST_BYTES} bytes` }] };
  }
  const { source, errors } = parseYaml(file, text, { ...DEFAULT_YAML_LIMITS, maxBytes: MAX_MANIFEST_BYTES });
  if (errors.length > 0) {
    return {
      ok: false,
      problems: errors.map((e) => ({
        file,
        ...(e.line === undefined ? {} : { line: e.line }),
        message: `YAML syntax error: ${e.message}`,
      })),
    };
  }
  const problems: ManifestProblem[] = [];
  const entries = new Map<string, ManifestEntry>();
  const referenced: string[] = [];
  const root = source.doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return { ok: true, entries, problems, referenced };
  if (!isMap(root)) {
    return {
      ok: false,
      problems: [
        { file, ...lineField(source, root), message: `expected a mapping with "secrets:", got ${describe(root)}` },
      ],
    };
  }
  let secrets: unknown;
  for (const pair of (root as YAMLMap).items) {
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    if (key === 'secrets') secrets = pair.value;
    else
      problems.push({
        file,
        ...lineField(source, pair.key),
        message: `unknown top-level key "${String(key)}" (ignored)`,
      });
  }
  if (secrets === undefined || secrets === null || (isScalar(secrets) && secrets.value === null)) {
    return { ok: true, entries, problems, referenced };
  }
  if (!isMap(secrets)) {
    return {
      ok: false,
      problems: [
        {
          file,
          ...lineField(source, secrets),
          message: `"secrets" must be a mapping of name → entry, got ${describe(secrets)}`,
        },
      ],
    };
  }
  const manifestDir = path.dirname(file);
  let realDir: string | undefined;
  try {
    realDir = inMemory ? manifestDir : await realpath(manifestDir);
  } catch (err) {
    return { ok: false, problems: [{ file, message: `cannot resolve manifest directory: ${(err as Error).message}` }] };
  }
  const safety: ManifestProblem[] = [];
  const safeDirs = new Set<string>();
  for (const pair of secrets.items) {
    // `123:` is a number to YAML but a fine file name: use the source text of plain scalars.
    const rawName = isScalar(pair.key)
      ? typeof pair.key.value === 'string'
        ? pair.key.value
        : typeof pair.key.value === 'number'
          ? (pair.key.source ?? String(pair.key.value))
          : undefined
      : undefined;
    const name = rawName ?? String(pair.key);
    try {
      if (rawName === undefined) throw new EntryProblem(`secret names must be strings`, lineOf(source, pair.key));
      const nameProblem = secretNameProblem(name);
      if (nameProblem) throw new EntryProblem(nameProblem, lineOf(source, pair.key));
      const entry = await readEntry(source, name, pair.key, pair.value, {
        dir: manifestDir,
        realDir,
        referenced,
        safeDirs,
        inMemory,
      });
      entries.set(name, entry);
    } catch (err) {
      if (!(err instanceof EntryProblem)) throw err;
      if (err.safety) {
        // Someone other than root may have changed this ciphertext: nothing in this manifest
        // version can be trusted to be the operator's, so the last good one keeps serving.
        safety.push({
          file,
          ...(err.line === undefined ? lineField(source, pair.key) : { line: err.line }),
          entry: name,
          message: err.message,
          safety: true,
        });
        continue;
      }
      problems.push({
        file,
        ...(err.line === undefined ? lineField(source, pair.key) : { line: err.line }),
        entry: name,
        message: `${err.message} (entry skipped)`,
      });
    }
  }
  if (safety.length > 0) return { ok: false, problems: safety };
  return { ok: true, entries, problems, referenced };
}

function lineField(src: YamlSource, node: unknown): { line?: number } {
  const line = lineOf(src, node);
  return line === undefined ? {} : { line };
}

interface EntryContext {
  readonly dir: string;
  readonly realDir: string;
  readonly referenced: string[];
  readonly safeDirs: Set<string>;
  readonly inMemory: InMemoryCiphertexts | undefined;
}

async function readEntry(
  src: YamlSource,
  name: string,
  keyNode: unknown,
  node: unknown,
  { dir, realDir, referenced, safeDirs, inMemory }: EntryContext,
): Promise<ManifestEntry> {
  // Problems with the entry as a whole point at its name; others at the offending value.
  const bad = (n: unknown, message: string): never => {
    throw new EntryProblem(message, lineOf(src, n) ?? lineOf(src, keyNode));
  };
  if (!isMap(node)) bad(node, `expected a mapping with file/ro, labels, mode, got ${describe(node)}`);
  let file: { node: unknown; value: string; backend: BackendName } | undefined;
  let labels: string[] | undefined;
  let namespaces: string[] | undefined;
  let mode = 0o400;
  let size: number | undefined;
  let cacheTtlMs: number | undefined;
  for (const pair of (node as YAMLMap).items) {
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
      case 'labels': {
        if (!isSeq(v)) bad(v, `labels: expected a list, got ${describe(v)}`);
        labels = [];
        for (const item of (v as { items: unknown[] }).items) {
          if (!isScalar(item) || typeof item.value !== 'string')
            bad(item, `labels: expected strings, got ${describe(item)}`);
          const label = (item as { value: string }).value;
          const p = labelProblem(label);
          if (p) bad(item, `labels: ${p}`);
          if (!labels.includes(label)) labels.push(label);
        }
        break;
      }
      case 'namespaces': {
        if (!isSeq(v)) bad(v, `namespaces: expected a list, got ${describe(v)}`);
        namespaces = [];
        for (const item of (v as { items: unknown[] }).items) {
          const ns = isScalar(item) ? item.value : undefined;
          // A Kubernetes namespace name is a DNS-1123 label.
          if (typeof ns !== 'string' || !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(ns))
            bad(item, `namespaces: expected Kubernetes namespace names (DNS-1123 labels), got ${describe(item)}`);
          if (!namespaces.includes(ns as string)) namespaces.push(ns as string);
        }
        // An empty list would admit no pod at all: almost certainly a mistake, so refuse it.
        if (namespaces.length === 0) bad(v, 'namespaces: must list at least one namespace (omit the key for any)');
        break;
      }
      case 'mode': {
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
        mode = parsed!;
        break;
      }
      case 'size': {
        if (!isScalar(v) || typeof v.value !== 'number' || !Number.isSafeInteger(v.value) || v.value < 0)
          bad(v, `size: expected a non-negative integer, got ${describe(v)}`);
        size = (v as { value: number }).value;
        break;
      }
      case 'cache': {
        const ttl = isScalar(v) ? parseCacheTtl(v.value) : undefined;
        if (ttl === undefined)
          bad(
            v,
            `cache: expected seconds (0 = decrypt at every open) or a duration like "30s", "5m", got ${describe(v)}`,
          );
        cacheTtlMs = ttl;
        break;
      }
      default:
        bad(pair.key, `unknown key "${String(key)}" (expected file or ro, labels, namespaces, mode, size, cache)`);
    }
  }
  if (!file) bad(keyNode, `missing "file" (OpenPGP ciphertext) or "ro" (Red October ciphertext)`);
  if (!labels || labels.length === 0)
    bad(keyNode, `"labels" must list at least one label (a secret without labels would be open to every container)`);
  const f = file!;
  const ciphertextPath = path.resolve(dir, f.value);
  const rel = path.relative(dir, ciphertextPath);
  referenced.push(ciphertextPath);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel))
    bad(f.node, `${f.value}: path must stay inside the manifest directory ${dir}`);
  const fields = {
    name,
    labels: labels!,
    ...(namespaces !== undefined ? { namespaces } : {}),
    mode,
    backend: f.backend,
    ...(size === undefined ? {} : { size }),
    ...(cacheTtlMs === undefined ? {} : { cacheTtlMs }),
  };
  if (inMemory) {
    const bytes = inMemory.files.get(ciphertextPath);
    if (bytes === undefined) bad(f.node, `${f.value}: ciphertext file not found in the image`);
    const version = createHash('sha256').update(bytes!).digest('hex');
    return { ...fields, ciphertextPath, version, mtimeMs: 0, ciphertext: bytes!, image: inMemory.image };
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
  const { version, mtimeMs } = await fingerprint(real).catch((err: Error) => bad(f.node, `${f.value}: ${err.message}`));
  const unsafe = await fileSafetyProblem(ciphertextPath, { kind: 'ciphertext', safeDirs });
  if (unsafe) throw new EntryProblem(unsafe, lineOf(src, f.node) ?? lineOf(src, keyNode), true);
  return { ...fields, ciphertextPath: real, version, mtimeMs };
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
