// Keys named after Object.prototype members (issue 21 item 3) in pald.yaml: unknown keys are
// refused by name (secrets.yaml: test/unit/store/proto-keys.test.ts).
import test from 'ava';
import { configError } from '../../helpers/yaml-fixtures.js';

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
