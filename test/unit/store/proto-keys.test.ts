// Names, entry keys and labels named after Object.prototype members (issue 21 item 3) in
// secrets.yaml are served as themselves (pald.yaml: test/unit/config/proto-keys.test.ts).
import test from 'ava';
import path from 'node:path';
import { parseManifest } from '../../../src/store/index.js';
import { manifestDir } from '../../helpers/yaml-fixtures.js';

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
