// pald.yaml: written by an operator, so mistakes and config management accidents are the hostile
// input here. parseConfig returns a config or throws ConfigError naming file, line and key.
import path from 'node:path';
import fc from 'fast-check';
import { ConfigError, parseConfig, type PaldConfig } from '../../../src/config/index.js';
import { isValidLabel } from '../../../src/policy/labels.js';
import { hostileText, showText } from '../mutate.js';
import { manyKeysShapes, prototypeKeyShapes, quoteRunShapes, yamlNestingShapes } from '../shapes.js';
import { FULL_CONFIG } from '../../helpers/config-fixtures.js';
import { timed, type FuzzTarget, type Scale, type Shape } from '../target.js';
import { firstUnknownKey, yamlDocuments, type Schema } from '../yaml-gen.js';

const FILE = '/etc/pal/pald.yaml';

/** The full config of test/unit/config/config.test.ts, and smaller ones from the same tests. */
const FULL = FULL_CONFIG.replace(
  'key_passphrase_file: pass\n',
  'key_passphrase_file: pass\ndocker:\n  host: unix:///var/run/docker.sock\n',
);

const SEEDS = [
  FULL,
  '# nothing here\n',
  'docker:\n  host: unix:///x.sock\n',
  'mountpoint: /run/pal\nmountpont: /x\n',
  'trust:\n  mode: none\n  nottary: {}\n',
  'host:\n  allow_uids:\n    - 0\n    - root\n',
  'trust:\n  notary:\n    collections:\n      - gun: a/b\n        root_keys: [k1]\n        root_threshold: 2\n',
  'limits:\n  locked_bytes: 8192\n  secret_bytes: 9000\n',
  'trust:\n  mode: none\n bad indent: [\n',
  'mountpoint: /a\nmountpoint: /b\n',
  'audit: {path: "-"}\n',
];

const SCHEMA: Schema = {
  mountpoint: 'leaf',
  manifest: 'leaf',
  keys: 'leaf',
  key_passphrase_file: 'leaf',
  state_dir: 'leaf',
  docker: { host: 'leaf' },
  trust: {
    mode: 'leaf',
    notary: {
      server: 'leaf',
      ca: 'leaf',
      timeout_ms: 'leaf',
      collections: [
        'list',
        { gun: 'leaf', root_keys: 'leaf', root_threshold: 'leaf', grants: 'leaf', delegations: 'any' },
      ],
    },
  },
  redoctober: { server: 'leaf', ca: 'leaf', user: 'leaf', password_file: 'leaf' },
  admin: { socket: 'leaf' },
  audit: { path: 'leaf' },
  host: { allow_uids: 'leaf' },
  cache: { plaintext_ttl_ms: 'leaf', plaintext_max_bytes: 'leaf' },
  limits: { open_handles_per_container: 'leaf', locked_bytes: 'leaf', secret_bytes: 'leaf' },
};

const KEYS = [
  'mountpoint',
  'manifest',
  'keys',
  'key_passphrase_file',
  'docker',
  'host',
  'trust',
  'mode',
  'notary',
  'server',
  'ca',
  'timeout_ms',
  'collections',
  'gun',
  'root_keys',
  'root_threshold',
  'grants',
  'delegations',
  'targets/releases',
  'redoctober',
  'user',
  'password_file',
  'admin',
  'socket',
  'audit',
  'path',
  'allow_uids',
  'cache',
  'plaintext_ttl_ms',
  'plaintext_max_bytes',
  'limits',
  'open_handles_per_container',
  'locked_bytes',
  'secret_bytes',
  'state_dir',
];
const LEAVES = [
  '/run/pal',
  'rel/path',
  '-',
  'none',
  'signed',
  'notary',
  'https://127.0.0.1:4443',
  'unix:///x.sock',
  'billing',
  'abc123',
  'registry.example.com/billing/*',
  '0400',
];

function shapes(scale: Scale): Array<Shape<string>> {
  return [
    ...yamlNestingShapes(scale, 'trust:\n  '),
    ...quoteRunShapes(scale, 'audit: {path: "-"}'),
    ...manyKeysShapes(scale, '', ''),
    ...manyKeysShapes(scale, 'docker:\n', '  '),
    ...prototypeKeyShapes(scale, FULL, 'pald.yaml'),
  ];
}

function invalid(c: PaldConfig): string | undefined {
  const abs = (p: unknown): boolean => typeof p === 'string' && path.isAbsolute(p);
  const int = (n: unknown, min: number): boolean => typeof n === 'number' && Number.isSafeInteger(n) && n >= min;
  if (![c.mountpoint, c.manifest, c.keys, c.admin.socket, c.stateDir].every(abs)) return 'a path is not absolute';
  if (c.keyPassphraseFile !== undefined && !abs(c.keyPassphraseFile)) return 'key_passphrase_file is not absolute';
  if (c.audit.path !== '-' && !abs(c.audit.path)) return 'audit.path is neither "-" nor absolute';
  if (typeof c.docker.host !== 'string' || c.docker.host === '') return 'docker.host is not a string';
  if (c.trust.mode !== 'notary' && c.trust.mode !== 'none') return `trust.mode ${String(c.trust.mode)}`;
  if (!c.host.allowUids.every((u) => int(u, 0) && u <= 0xffffffff)) return 'allow_uids holds a non-uid';
  if (!int(c.cache.plaintextTtlMs, 0) || !int(c.cache.plaintextMaxBytes, 0)) return 'cache numbers are not integers';
  if (
    !int(c.limits.openHandlesPerContainer, 1) ||
    !int(c.limits.lockedBytes, 4096) ||
    !int(c.limits.secretBytes, 1) ||
    c.limits.secretBytes > c.limits.lockedBytes
  )
    return 'limits out of range';
  for (const col of c.trust.notary?.collections ?? []) {
    if (
      typeof col.gun !== 'string' ||
      col.rootKeys.length === 0 ||
      !col.rootKeys.every((k) => typeof k === 'string' && k !== '')
    )
      return 'collection without gun or root keys';
    if (!col.grants.every(isValidLabel)) return `grant outside the label grammar: ${JSON.stringify(col.grants)}`;
    if (!int(col.rootThreshold ?? 1, 1) || (col.rootThreshold ?? 1) > new Set(col.rootKeys).size)
      return 'root_threshold out of range';
    for (const [role, labels] of col.delegations ?? new Map()) {
      if (typeof role !== 'string' || !role.startsWith('targets/') || !labels.every(isValidLabel))
        return `bad delegation ${String(role)}`;
    }
  }
  return undefined;
}

export const target: FuzzTarget<string> = {
  name: 'config',
  covers: 'parseConfig (src/config/index.ts, shared/yaml-nodes.ts)',
  accepts: [ConfigError],
  shapes,
  // Unit runs keep inputs small: the quadratic shapes of 21.4 are covered by the hand-made ones.
  arbitrary: (_state, scale) =>
    fc.oneof(
      {
        weight: 4,
        arbitrary: hostileText(SEEDS, {
          tokens: [...KEYS.map((k) => `${k}: `), ...LEAVES],
          maxLength: scale === 'unit' ? 8192 : 256 * 1024,
        }),
      },
      { weight: 2, arbitrary: yamlDocuments(KEYS, LEAVES) },
    ),
  check(text) {
    const config = timed(() => parseConfig(FILE, text, {}));
    const unknown = firstUnknownKey(text, SCHEMA);
    if (unknown !== undefined) return `unknown key "${unknown}" accepted instead of refused`;
    return invalid(config);
  },
  show: showText,
};
