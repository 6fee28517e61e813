// Writing manifest and ciphertext files for `pal seal`: always write-then-rename,
// so pald's watcher (and a crash) never sees a half-written file.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Document, isMap, isScalar, Scalar, type YAMLMap } from 'yaml';
import { DEFAULT_YAML_LIMITS, parseBoundedYaml } from '../shared/yaml-bounded.js';
import { MAX_MANIFEST_BYTES } from './manifest.js';
import { labelProblem, secretNameProblem } from './names.js';
import { errorMessage } from '../shared/error-message.js';

/** tmp file in the same dir + fsync + rename + fsync of the dir. */
export async function writeFileAtomic(file: string, data: Uint8Array | string, mode = 0o644): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode);
    await fh.sync();
    await fh.close();
    await rename(tmp, file);
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

export interface ManifestEntryEdit {
  readonly name: string;
  /** Relative to the manifest's directory. */
  readonly file: string;
  readonly labels: readonly string[];
  readonly mode: number;
  readonly size?: number;
  /** Which ciphertext key the entry gets: `file` (OpenPGP, default) or `ro` (Red October). */
  readonly backend?: 'openpgp' | 'redoctober';
}

/**
 * Adds or replaces one entry in secrets.yaml text with yaml's Document API:
 * other entries, comments and ordering are kept. Throws on a manifest that
 * is not valid YAML or not shaped like one (the caller must not overwrite it).
 */
export function upsertManifestEntryText(text: string, edit: ManifestEntryEdit): string {
  const problem = secretNameProblem(edit.name) ?? edit.labels.map(labelProblem).find((p) => p !== undefined);
  if (problem) throw new Error(problem);
  let doc: Document;
  if (text.trim() === '') doc = new Document({ secrets: {} });
  else {
    // The same bounded parse as pald's: the text may have been edited by anyone.
    const parsed = parseBoundedYaml(text, { ...DEFAULT_YAML_LIMITS, maxBytes: MAX_MANIFEST_BYTES });
    const first = parsed.errors[0];
    if (first)
      throw new Error(
        `the manifest is not valid YAML: ${first.line === undefined ? '' : `line ${first.line}: `}${first.message}`,
      );
    doc = parsed.doc;
  }
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null))
    doc.contents = doc.createNode({ secrets: {} });
  if (!isMap(doc.contents)) throw new Error('the manifest is not a mapping with "secrets:"');
  let secrets = doc.get('secrets', true);
  if (secrets === undefined || (isScalar(secrets) && secrets.value === null)) {
    doc.set('secrets', doc.createNode({}));
    secrets = doc.get('secrets', true);
  }
  if (!isMap(secrets)) throw new Error('"secrets" in the manifest is not a mapping');
  const map = secrets;
  let pair = map.items.find((p) => isScalar(p.key) && (p.key.source ?? String(p.key.value)) === edit.name);
  if (!pair || !isMap(pair.value)) {
    const fresh = doc.createNode({}) as YAMLMap;
    if (pair) pair.value = fresh;
    else map.add(doc.createPair(edit.name, fresh));
    pair = map.items.find((p) => isScalar(p.key) && (p.key.source ?? String(p.key.value)) === edit.name)!;
  }
  const entry = pair.value as YAMLMap;
  const [fileKey, otherKey] = edit.backend === 'redoctober' ? ['ro', 'file'] : ['file', 'ro'];
  entry.delete(otherKey);
  entry.set(fileKey, edit.file);
  const labels = doc.createNode([...edit.labels]);
  (labels as { flow?: boolean }).flow = true;
  entry.set('labels', labels);
  const mode = new Scalar('0' + edit.mode.toString(8).padStart(3, '0'));
  mode.type = Scalar.QUOTE_DOUBLE;
  entry.set('mode', mode);
  if (edit.size === undefined) entry.delete('size');
  else entry.set('size', edit.size);
  try {
    return doc.toString({ flowCollectionPadding: false });
  } catch (err) {
    // The library parses some documents it cannot write back (an alias to no anchor, `a: *b`):
    // its own error must not escape as if it were ours, and the manifest is left as it was.
    throw new Error(`the manifest cannot be rewritten: ${errorMessage(err)}`);
  }
}

/** Reads (or starts) the manifest, upserts the entry, writes it back atomically, keeping its mode. */
export async function upsertManifestEntry(manifestPath: string, edit: ManifestEntryEdit): Promise<void> {
  let text = '';
  let mode = 0o644;
  try {
    text = await readFile(manifestPath, 'utf8');
    mode = (await stat(manifestPath)).mode & 0o7777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await writeFileAtomic(manifestPath, upsertManifestEntryText(text, edit), mode);
}
