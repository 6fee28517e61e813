// pald.yaml trust.recheck_ms: how long a trust decision is reused before signatures are verified again.
import test from 'ava';
import { ConfigError, parseConfig } from '../../../src/config/index.js';

const yaml = (line: string) =>
  `trust:\n  mode: signed\n${line}  cosign:\n    policies:\n      - repository: r.example/a/*\n        keys: [/etc/pal/a.pub]\n        grants: [a]\n`;

test('trust.recheck_ms is read; absent it is left to the 30 s default; under a second is refused', (t) => {
  t.is(parseConfig('/etc/pal/pald.yaml', yaml('  recheck_ms: 5000\n')).trust.recheckMs, 5000);
  t.is(parseConfig('/etc/pal/pald.yaml', yaml('')).trust.recheckMs, undefined);
  const e = t.throws(() => parseConfig('/etc/pal/pald.yaml', yaml('  recheck_ms: 10\n')), { instanceOf: ConfigError });
  t.regex(e.message, /recheck_ms/);
});
