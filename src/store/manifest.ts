// Parses and validates secrets.yaml. Hostile input: every problem becomes a
// ManifestProblem with a line number; a bad entry is skipped, the rest served.
// This file reads the document (its shape, the `secrets:` mapping, each name); manifest-entry.ts reads one entry.
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, type YAMLMap } from 'yaml';
import { DEFAULT_YAML_LIMITS } from '../shared/yaml-bounded.js';
import { describe, lineOf, parseYaml, type YamlSource } from '../shared/yaml-nodes.js';
import { secretNameProblem } from './names.js';
import { EntryProblem, readEntry, type EntryContext, type InMemoryCiphertexts } from './manifest-entry.js';
import type { ManifestEntry, ManifestProblem } from './types.js';

export { MAX_CIPHERTEXT_BYTES, parseCacheTtl, type InMemoryCiphertexts } from './manifest-entry.js';

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

/** A manifest is policy, not data: anything this big is a mistake or an attack. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

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
  const secrets = secretsNode(source, problems);
  if (secrets !== undefined && !isMap(secrets)) return { ok: false, problems: [secrets] };
  if (secrets === undefined) return { ok: true, entries: new Map(), problems, referenced: [] };
  const manifestDir = path.dirname(file);
  let realDir: string | undefined;
  try {
    realDir = inMemory ? manifestDir : await realpath(manifestDir);
  } catch (err) {
    return { ok: false, problems: [{ file, message: `cannot resolve manifest directory: ${(err as Error).message}` }] };
  }
  const context: EntryContext = { dir: manifestDir, realDir, referenced: [], safeDirs: new Set(), inMemory };
  return readEntries(source, secrets, context, problems);
}

/**
 * The `secrets:` mapping, undefined when there is none (an empty manifest), or when the document has the wrong
 * shape the one problem that makes it unusable. Unknown top-level keys are added to `problems`.
 */
function secretsNode(source: YamlSource, problems: ManifestProblem[]): YAMLMap | undefined | ManifestProblem {
  const file = source.file;
  const root = source.doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return undefined;
  if (!isMap(root)) {
    return { file, ...lineField(source, root), message: `expected a mapping with "secrets:", got ${describe(root)}` };
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
  if (secrets === undefined || secrets === null || (isScalar(secrets) && secrets.value === null)) return undefined;
  if (!isMap(secrets)) {
    return {
      file,
      ...lineField(source, secrets),
      message: `"secrets" must be a mapping of name → entry, got ${describe(secrets)}`,
    };
  }
  return secrets;
}

/** `123:` is a number to YAML but a fine file name: the source text of plain scalars. */
function secretName(key: unknown): string | undefined {
  if (!isScalar(key)) return undefined;
  if (typeof key.value === 'string') return key.value;
  return typeof key.value === 'number' ? (key.source ?? String(key.value)) : undefined;
}

async function readEntries(
  source: YamlSource,
  secrets: YAMLMap,
  context: EntryContext,
  problems: ManifestProblem[],
): Promise<ManifestParse> {
  const file = source.file;
  const entries = new Map<string, ManifestEntry>();
  const safety: ManifestProblem[] = [];
  for (const pair of secrets.items) {
    const rawName = secretName(pair.key);
    const name = rawName ?? String(pair.key);
    try {
      if (rawName === undefined) throw new EntryProblem(`secret names must be strings`, lineOf(source, pair.key));
      const nameProblem = secretNameProblem(name);
      if (nameProblem) throw new EntryProblem(nameProblem, lineOf(source, pair.key));
      entries.set(name, await readEntry(source, name, pair.key, pair.value, context));
    } catch (err) {
      if (!(err instanceof EntryProblem)) throw err;
      const at = err.line === undefined ? lineField(source, pair.key) : { line: err.line };
      // A File safety refusal: someone other than root may have changed this ciphertext, so nothing in this
      // manifest version can be trusted to be the operator's, and the last good one keeps serving.
      if (err.safety) safety.push({ file, ...at, entry: name, message: err.message, safety: true });
      else problems.push({ file, ...at, entry: name, message: `${err.message} (entry skipped)` });
    }
  }
  if (safety.length > 0) return { ok: false, problems: safety };
  return { ok: true, entries, problems, referenced: context.referenced };
}

function lineField(src: YamlSource, node: unknown): { line?: number } {
  const line = lineOf(src, node);
  return line === undefined ? {} : { line };
}
