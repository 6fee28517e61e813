// Keys named after Object.prototype members (issue 21 item 3), in pald.yaml and secrets.yaml:
// unknown keys are refused by name, names and labels are served as themselves.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, parseConfig } from '../../../src/config/index.js';
import { parseManifest } from '../../../src/store/index.js';

const dirs: string[] = [];
test.after.always(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function manifestDir(files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pal-hostile-yaml-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content);
  return dir;
}

const configError = (text: string): ConfigError | undefined => {
  try {
    parseConfig('/etc/pal/pald.yaml', text, {});
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
};

const protoConfigs = [
  'hasOwnProperty: 1\n',
  '__proto__:\n',
  '__proto__: {mountpoint: /x}\n',
  'constructor: 1\n',
  'toString: 1\n',
  'valueOf: 1\n',
  'docker:\n  valueOf: 1\n',
  'docker:\n  hasOwnProperty: 1\n',
  'trust:\n  constructor: x\n',
  'limits:\n  __proto__: 1\n',
  'trust:\n  notary:\n    collections:\n      - gun: a\n        toString: 1\n',
];

for (const text of protoConfigs) {
  test(`21.3: config key ${JSON.stringify(text)} is an unknown key, with its line`, (t) => {
    const err = configError(text);
    t.truthy(err, 'refused');
    t.regex(err!.message, /unknown key \(expected one of: /);
    t.is(err!.line, text.split('\n').length - 1);
  });
}

test('21.3: manifest names, entry keys and labels named after Object.prototype members', async (t) => {
  const names = ['constructor', '__proto__', 'hasOwnProperty', 'toString', 'valueOf'];
  const dir = await manifestDir({ 'ok.pgp': 'ciphertext' });
  const text =
    '__proto__: 1\nsecrets:\n' +
    // Of these, only `constructor` is a valid label (SPEC grammar: lower case, no leading `_`).
    names.map((n) => `  ${n}:\n    file: ok.pgp\n    labels: [constructor, l]\n`).join('') +
    '  bad:\n    file: ok.pgp\n    labels: [a]\n    constructor: 1\n';
  const m = await parseManifest(path.join(dir, 'secrets.yaml'), text);
  t.true(m.ok);
  if (!m.ok) return;
  t.deepEqual([...m.entries.keys()], names, 'served under their own names, nothing else');
  for (const n of names) t.deepEqual(m.entries.get(n)?.labels, ['constructor', 'l']);
  t.deepEqual(
    m.problems.map((p) => [p.line, p.entry, p.message.replace(/ \(.*/, '')]),
    [
      [1, undefined, 'unknown top-level key "__proto__"'],
      [21, 'bad', 'unknown key "constructor"'],
    ],
  );
});
