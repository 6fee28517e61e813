// Cloudflare PAL's PAL_SECRETS_YAML, as an image carries it, read for migration (docs/pal-migration.md).
// Top level: environment name -> { env: {VAR: value}, file: {path: value}, entrypoint, command }.
// A value is "<scheme>[+base64]:<base64 ciphertext>"; pal accepts pgp, pgp+base64, ro and
// ro+base64 (PAL's four). Each entry becomes a file under /run/pal, never an environment
// variable: env entries named after the variable, file entries after the path's last component.
// The text comes from the image's author: every node is checked, and a bad entry is a problem
// for that entry only; a bad document is one problem and no entries.

import path from 'node:path';
import { isAlias, isMap, isScalar, type Node, type Pair } from 'yaml';
import { parseBoundedYaml } from '../../shared/yaml-bounded.js';
import { secretNameProblem } from '../names.js';

export type PalScheme = 'pgp' | 'ro';

export interface PalSecret {
  /** The name under /run/pal. */
  readonly name: string;
  /** Where PAL would have put it: "env DB_PASSWORD" or "file /etc/app/key.pem". */
  readonly source: string;
  readonly scheme: PalScheme;
  /** `+base64`: the decrypted value is itself base64, decoded once more before it is served. */
  readonly base64: boolean;
  /** The ciphertext (the value's base64 decoded): an OpenPGP message, or Red October's JSON. */
  readonly ciphertext: Buffer;
  readonly line?: number | undefined;
}

export interface PalProblem {
  readonly line?: number | undefined;
  readonly entry?: string;
  readonly message: string;
}

export interface PalParseOptions {
  /** The environment to serve; absent: the document's only one (several is an error). */
  readonly environment?: string;
  /** Largest ciphertext (after base64 decoding). */
  readonly maxCiphertextBytes: number;
  /** Largest document. */
  readonly maxBytes: number;
  /** Most entries (env and file together) in the chosen environment. */
  readonly maxEntries: number;
}

export interface PalParsed {
  /** Set when nothing of the document can be used (then entries is empty). */
  readonly refused?: string;
  readonly environment?: string;
  readonly secrets: readonly PalSecret[];
  readonly problems: readonly PalProblem[];
}

const PREFIX = /^(pgp|ro)(\+base64)?:/;
/** PAL's value grammar, `(\w+)\+?(\w*):(.+)`, for a readable refusal of what pal does not accept. */
const ANY_SCHEME = /^(\w+)(\+\w*)?:/;
const ENVIRONMENT_KEYS = new Set(['env', 'file', 'entrypoint', 'command']);

/** Standard base64 with line breaks and spaces allowed between characters (PAL's README wraps values). */
function decodeBase64(text: string): Buffer | string {
  const compact = text.replace(/[\s]+/g, '');
  if (compact.length === 0) return 'empty ciphertext';
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact))
    return 'the ciphertext is not standard base64';
  return Buffer.from(compact, 'base64');
}

function scalarString(node: unknown): string | undefined {
  return isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
}

export function parsePalSecretsYaml(text: string, opts: PalParseOptions): PalParsed {
  const refuse = (refused: string): PalParsed => ({ refused, secrets: [], problems: [] });
  const { doc, lines, errors } = parseBoundedYaml(text, { maxBytes: opts.maxBytes, maxDepth: 8 });
  if (errors.length > 0)
    return refuse(errors.map((e) => `${e.line === undefined ? '' : `line ${e.line}: `}${e.message}`).join('; '));
  const lineOf = (node: unknown): number | undefined => {
    const range = (node as { range?: [number, number, number] | null } | null)?.range;
    return range ? lines.linePos(range[0]).line : undefined;
  };
  const root = doc.contents as Node | null;
  if (!isMap(root)) return refuse('PAL_SECRETS_YAML must be a mapping of environment names');
  const environments = new Map<string, Node | null>();
  for (const pair of root.items) {
    const key = scalarString(pair.key);
    if (key === undefined) return refuse(`line ${lineOf(pair.key) ?? '?'}: an environment name must be a string`);
    environments.set(key, pair.value as Node | null);
  }
  const wanted = opts.environment ?? (environments.size === 1 ? [...environments.keys()][0] : undefined);
  if (wanted === undefined)
    return refuse(
      `${environments.size} environments (${[...environments.keys()].slice(0, 10).join(', ')}) and none selected: ` +
        'set the image label pal.environment',
    );
  if (!environments.has(wanted)) return refuse(`no environment "${wanted}" in PAL_SECRETS_YAML`);
  const env = environments.get(wanted);
  if (!isMap(env)) return refuse(`environment "${wanted}" must be a mapping with env: and file:`);

  const secrets: PalSecret[] = [];
  const problems: PalProblem[] = [];
  const taken = new Set<string>();
  for (const pair of env.items) {
    const section = scalarString(pair.key);
    if (section === undefined || !ENVIRONMENT_KEYS.has(section)) {
      problems.push({ line: lineOf(pair.key), message: `unknown key in environment "${wanted}" (expected env, file)` });
      continue;
    }
    if (section !== 'env' && section !== 'file') continue; // entrypoint, command: pal runs nothing
    const map = pair.value;
    if (map === null || (isScalar(map) && map.value === null)) continue;
    if (!isMap(map)) {
      problems.push({ line: lineOf(map), message: `${section}: must be a mapping` });
      continue;
    }
    for (const item of map.items) {
      if (secrets.length + problems.length >= opts.maxEntries)
        return refuse(`more than ${opts.maxEntries} entries in environment "${wanted}"`);
      const found = entry(section, item, opts, lineOf);
      if ('message' in found) {
        problems.push(found);
        continue;
      }
      if (taken.has(found.name)) {
        problems.push({
          line: found.line,
          entry: found.name,
          message: `${found.source}: another entry is also named "${found.name}" under /run/pal`,
        });
        continue;
      }
      taken.add(found.name);
      secrets.push(found);
    }
  }
  return { environment: wanted, secrets, problems };
}

function entry(
  section: 'env' | 'file',
  item: Pair<unknown, unknown>,
  opts: PalParseOptions,
  lineOf: (node: unknown) => number | undefined,
): PalSecret | PalProblem {
  const line = lineOf(item.key);
  const key = scalarString(item.key);
  if (key === undefined) return { line, message: `${section}: a key must be a string` };
  const shownKey = JSON.stringify(key.slice(0, 200));
  const name = section === 'env' ? key : key.endsWith('/') ? '' : path.posix.basename(key);
  const source = `${section} ${shownKey}`;
  const nameProblem = name === '' ? 'no file name in the path' : secretNameProblem(name);
  if (nameProblem) return { line, message: `${source}: ${nameProblem}` };
  if (isAlias(item.value)) return { line, entry: name, message: `${source}: aliases are not accepted` };
  const value = scalarString(item.value);
  if (value === undefined) return { line, entry: name, message: `${source}: the value must be a string` };
  const prefix = PREFIX.exec(value);
  if (!prefix) {
    const scheme = ANY_SCHEME.exec(value)?.[0];
    return {
      line,
      entry: name,
      message: scheme
        ? `${source}: unknown scheme "${scheme.slice(0, 40)}" (pal accepts pgp:, pgp+base64:, ro:, ro+base64:)`
        : `${source}: not encrypted; pal serves only ciphertexts from an image (leave plain settings in the image)`,
    };
  }
  const ciphertext = decodeBase64(value.slice(prefix[0].length));
  if (typeof ciphertext === 'string') return { line, entry: name, message: `${source}: ${ciphertext}` };
  if (ciphertext.length > opts.maxCiphertextBytes)
    return {
      line,
      entry: name,
      message: `${source}: ciphertext of ${ciphertext.length} bytes is larger than ${opts.maxCiphertextBytes}`,
    };
  return {
    name,
    source,
    scheme: prefix[1] as PalScheme,
    base64: prefix[2] !== undefined,
    ciphertext,
    line,
  };
}

/** PAL_SECRETS_YAML from an image config's Env ("NAME=value" strings); undefined when absent. */
export function palYamlFromEnv(env: readonly unknown[]): string | undefined {
  let found: string | undefined;
  for (const e of env) {
    if (typeof e === 'string' && e.startsWith('PAL_SECRETS_YAML=')) found = e.slice('PAL_SECRETS_YAML='.length);
  }
  return found;
}
