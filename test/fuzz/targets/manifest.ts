// secrets.yaml: whoever can write the manifest (an operator, config management, an attacker with
// write access to /etc/pal) controls this text. parseManifest resolves to a parse with problems
// that have reasons; it never rejects.
import { mkdir, realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { isMap, isScalar, parseDocument, type Pair, type YAMLMap } from 'yaml';
import { parseManifest } from '../../../src/store/manifest.js';
import { labelProblem, secretNameProblem } from '../../../src/store/names.js';
import { hostileText, PROTOTYPE_KEYS, showText } from '../mutate.js';
import { manyKeysShapes, prototypeKeyShapes, quoteRunShapes, yamlNestingShapes } from '../shapes.js';
import { timed, type FuzzTarget, type Scale, type Shape } from '../target.js';
import { yamlDocuments } from '../yaml-gen.js';

/** From test/unit/store/manifest.test.ts. */
export const MANIFEST = `secrets:
  db-password:
    file: db-password.pgp
    labels: [production-team-secret]
    mode: "0440"
  api.key:
    file: sub/api.pgp
    labels: [a, b, a]
    mode: 0400
  ro-secret:
    ro: ok.pgp
    labels:
      - billing
    size: 12
`;

export const MANIFEST_SEEDS = [
  MANIFEST,
  '',
  'secrets:\n',
  'secrets:\n  good:\n    file: ok.pgp\n    labels: [a]\n  "../x":\n    file: ok.pgp\n    labels: [a]\n',
  'secrets:\n  s:\n    vault: ok.pgp\n    labels: [a]\n',
  'secrets:\n  s:\n    file: ok.pgp\n    ro: ok.pgp\n    labels: [a]\n',
  'secrets:\n  s:\n    file: ../outside.pgp\n    labels: [a]\n',
  'secrets:\n  s:\n    file: ok.pgp\n   labels: [a\n',
  'secrets: [a, b]\n',
  'secrets:\n  123:\n    file: ok.pgp\n    labels: [a]\n    mode: 0o777\n',
];

export const MANIFEST_KEYS = ['secrets', 'file', 'ro', 'labels', 'mode', 'size', 'db-password', 'api.key', 's'];
const LEAVES = [
  'ok.pgp',
  'db-password.pgp',
  'sub/api.pgp',
  'missing.pgp',
  '../outside.pgp',
  'sub',
  '.',
  '0400',
  '0777',
  'a',
  'billing',
  '.ops',
];

export function manifestShapes(scale: Scale): Array<Shape<string>> {
  return [
    ...yamlNestingShapes(scale, 'secrets:\n  '),
    ...quoteRunShapes(scale, 'secrets:\n  s: {file: "ok.pgp", labels: [a]}'),
    ...manyKeysShapes(scale, 'secrets:\n', '  '),
    ...manyKeysShapes(scale, '', ''),
    ...prototypeKeyShapes(scale, MANIFEST, 'secrets.yaml'),
    ...PROTOTYPE_KEYS.map((k) => ({
      name: `21.3 secret named ${k} with label ${k}`,
      input: `secrets:\n  ${k}:\n    file: ok.pgp\n    labels: [${k}]\n`,
    })),
    ...PROTOTYPE_KEYS.map((k) => ({
      name: `21.3 ciphertext path ${k}`,
      input: `secrets:\n  s:\n    file: ${k}\n    labels: [a]\n`,
    })),
  ];
}

interface State {
  readonly file: string;
  readonly realDir: string;
}

const ENTRY_KEYS = new Set(['file', 'ro', 'labels', 'mode', 'size']);

/** Keys of the accepted entries' mappings in the source: each must be one parseManifest knows. */
function unknownEntryKey(text: string, accepted: ReadonlySet<string>): string | undefined {
  const secrets = parseDocument(text).get('secrets', true);
  if (!isMap(secrets)) return undefined;
  for (const pair of (secrets as YAMLMap).items as Pair[]) {
    const name = isScalar(pair.key) ? (pair.key.source ?? String(pair.key.value)) : undefined;
    if (name === undefined || !accepted.has(name) || !isMap(pair.value)) continue;
    for (const p of (pair.value as YAMLMap).items as Pair[]) {
      const k = isScalar(p.key) ? p.key.value : undefined;
      if (typeof k !== 'string' || !ENTRY_KEYS.has(k)) return `${name}.${String(k)}`;
    }
  }
  return undefined;
}

export const target: FuzzTarget<string, State> = {
  name: 'manifest',
  covers: 'parseManifest (src/store/manifest.ts, shared/yaml-nodes.ts)',
  accepts: [],
  settleMs: 5_000,
  async setup(ctx) {
    const dir = path.join(ctx.workDir, 'manifest');
    await mkdir(path.join(dir, 'sub'), { recursive: true });
    for (const f of ['ok.pgp', 'db-password.pgp', 'sub/api.pgp']) await writeFile(path.join(dir, f), 'x');
    await writeFile(path.join(ctx.workDir, 'outside.pgp'), 'x');
    return { file: path.join(dir, 'secrets.yaml'), realDir: await realpath(dir) };
  },
  shapes: manifestShapes,
  // Unit runs keep inputs small: the quadratic shapes of 21.4 are covered by the hand-made ones.
  arbitrary: (_state, scale) =>
    fc.oneof(
      {
        weight: 4,
        arbitrary: hostileText(MANIFEST_SEEDS, {
          tokens: [...MANIFEST_KEYS.map((k) => `${k}: `), ...LEAVES],
          maxLength: scale === 'unit' ? 8192 : 256 * 1024,
        }),
      },
      { weight: 2, arbitrary: yamlDocuments(MANIFEST_KEYS, LEAVES) },
    ),
  async check(text, state) {
    const parse = await timed(() => parseManifest(state.file, text));
    if (!parse.problems.every((p) => typeof p.message === 'string' && p.message !== '' && p.file === state.file))
      return 'a problem without a reason or file';
    if (!parse.ok) return parse.problems.length > 0 ? undefined : 'refused without a problem';
    for (const [name, e] of parse.entries) {
      if (e.name !== name || secretNameProblem(name) !== undefined)
        return `invalid secret name accepted: ${JSON.stringify(name)}`;
      if (e.labels.length === 0 || !e.labels.every((l) => typeof l === 'string' && labelProblem(l) === undefined))
        return `invalid labels accepted for ${name}`;
      if (!Number.isInteger(e.mode) || e.mode < 0 || e.mode > 0o777) return `mode ${e.mode} accepted`;
      if (e.backend !== 'openpgp' && e.backend !== 'redoctober') return `backend ${String(e.backend)}`;
      const rel = path.relative(state.realDir, e.ciphertextPath);
      if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel))
        return `ciphertext ${e.ciphertextPath} outside the manifest directory`;
      if (!/^[0-9a-f]{64}$/.test(e.version)) return 'version is not a sha256';
      if (e.size !== undefined && !(Number.isSafeInteger(e.size) && e.size >= 0)) return `size ${e.size} accepted`;
    }
    if (parse.entries.size === 0) return undefined;
    const unknown = unknownEntryKey(text, new Set(parse.entries.keys()));
    return unknown === undefined ? undefined : `entry accepted with unknown key "${unknown}"`;
  },
  show: showText,
};
