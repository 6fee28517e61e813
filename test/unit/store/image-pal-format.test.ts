// Cloudflare PAL's PAL_SECRETS_YAML as an image carries it: hostile documents and values are
// problems with reasons (never a crash), good entries become /run/pal names.

import test from 'ava';
import { parsePalSecretsYaml, palYamlFromEnv, palEntries } from '../../../src/store/image/index.js';
import { decodePalPayload } from '../../../src/crypto/pal-payload.js';
import type { ManifestEntry } from '../../../src/store/index.js';

const OPTS = { maxCiphertextBytes: 64, maxBytes: 4096, maxEntries: 8 };
const CT = Buffer.from('an OpenPGP message').toString('base64');
const IMAGE = `sha256:${'a'.repeat(64)}`;

test('env and file entries of the chosen environment, with their schemes', (t) => {
  const yaml = `dev:\n  env:\n    SECRET: "not secret"\nproduction:\n  env:\n    DB_PASSWORD: "pgp:${CT}"\n    TOKEN: "pgp+base64:${CT}"\n  file:\n    /usr/local/secret.txt: "ro:${CT}"\n    /etc/app/key.pem: "ro+base64:${CT}"\n  entrypoint: env\n`;
  const got = parsePalSecretsYaml(yaml, { ...OPTS, environment: 'production' });
  t.is(got.refused, undefined);
  t.deepEqual(got.problems, []);
  t.deepEqual(
    got.secrets.map((s) => [s.name, s.source, s.scheme, s.base64, s.ciphertext.toString()]),
    [
      ['DB_PASSWORD', 'env "DB_PASSWORD"', 'pgp', false, 'an OpenPGP message'],
      ['TOKEN', 'env "TOKEN"', 'pgp', true, 'an OpenPGP message'],
      ['secret.txt', 'file "/usr/local/secret.txt"', 'ro', false, 'an OpenPGP message'],
      ['key.pem', 'file "/etc/app/key.pem"', 'ro', true, 'an OpenPGP message'],
    ],
  );
});

test('a value wrapped over lines (as in PAL README) is one ciphertext', (t) => {
  const wrapped = CT.match(/.{1,8}/g)!.join('\n      ');
  const got = parsePalSecretsYaml(`p:\n  env:\n    A: |\n      pgp:${wrapped}\n`, OPTS);
  t.is(got.secrets[0]?.ciphertext.toString(), 'an OpenPGP message');
});

test('environment selection: the only one by default; several need a choice; a missing one is refused', (t) => {
  t.is(parsePalSecretsYaml(`only:\n  env:\n    A: "pgp:${CT}"\n`, OPTS).environment, 'only');
  t.regex(parsePalSecretsYaml(`a: {}\nb: {}\n`, OPTS).refused ?? '', /2 environments \(a, b\) and none selected/);
  t.regex(parsePalSecretsYaml(`a: {}\n`, { ...OPTS, environment: 'prod' }).refused ?? '', /no environment "prod"/);
});

test('hostile documents are refused with a reason', (t) => {
  const cases: Array<[string, RegExp]> = [
    ['- a\n- b\n', /must be a mapping of environment names/],
    ['[1, 2', /line|flow/i],
    ['prod: [a]\n', /must be a mapping with env: and file:/],
    [`? [a]\n: {}\n`, /environment name must be a string/],
    ['x'.repeat(5000), /larger than the limit/],
    ['a: ' + '['.repeat(50) + ']'.repeat(50), /nesting deeper/],
    ['a: {}\na: {}\n', /duplicate|unique/i],
    [
      `p:\n  env:\n${Array.from({ length: 10 }, (_, i) => `    V${i}: "pgp:${CT}"`).join('\n')}\n`,
      /more than 8 entries/,
    ],
  ];
  for (const [yaml, reason] of cases) {
    const got = parsePalSecretsYaml(yaml, OPTS);
    t.regex(got.refused ?? '', reason, yaml.slice(0, 40));
    t.deepEqual(got.secrets, []);
  }
});

test('hostile entries are problems of their own; the good ones are kept', (t) => {
  const big = Buffer.alloc(100).toString('base64');
  const yaml = [
    'p:',
    '  env:',
    `    GOOD: "pgp:${CT}"`,
    '    PLAIN: "hello"',
    '    B64PLAIN: "base64:aGVsbG8="',
    `    WEIRD: "gpg:${CT}"`,
    `    INFIX: "pgp+hex:${CT}"`,
    '    BADB64: "pgp:not*base64!"',
    '    SHORT: "pgp:abc"',
    '    EMPTY: "pgp:"',
    `    BIG: "pgp:${big}"`,
    '    NUM: 42',
    '    LIST: [a, b]',
    '    NULLV: null',
    `    "bad name": "pgp:${CT}"`,
    `    .hidden: "pgp:${CT}"`,
    `    ALIASED: &x "pgp:${CT}"`,
    '    USE: *x',
    '  file:',
    `    /etc/app/: "pgp:${CT}"`,
    `    /x/GOOD: "pgp:${CT}"`,
    '  other: 1',
  ].join('\n');
  const got = parsePalSecretsYaml(yaml + '\n', { ...OPTS, maxEntries: 64 });
  t.is(got.refused, undefined);
  t.deepEqual(
    got.secrets.map((s) => s.name),
    ['GOOD', 'ALIASED'],
  );
  const text = got.problems.map((p) => p.message).join('\n');
  for (const reason of [
    /env "PLAIN": not encrypted/,
    /env "B64PLAIN": unknown scheme "base64:"/,
    /env "WEIRD": unknown scheme "gpg:"/,
    /env "INFIX": unknown scheme "pgp\+hex:"/,
    /env "BADB64": the ciphertext is not standard base64/,
    /env "SHORT": the ciphertext is not standard base64/,
    /env "EMPTY": empty ciphertext/,
    /env "BIG": ciphertext of 100 bytes is larger than 64/,
    /env "NUM": the value must be a string/,
    /env "LIST": the value must be a string/,
    /env "NULLV": the value must be a string/,
    /env "bad name": invalid name/,
    /env ".hidden": invalid name ".hidden" \(must not start with a dot\)/,
    /env "USE": aliases are not accepted/,
    /file "\/etc\/app\/": invalid name|no file name/,
    /file "\/x\/GOOD": another entry is also named "GOOD"/,
    /unknown key in environment "p"/,
  ])
    t.regex(text, reason);
});

test('PAL_SECRETS_YAML from an image config Env list', (t) => {
  t.is(palYamlFromEnv(['PATH=/bin', 'PAL_SECRETS_YAML=a: {}\n', 42]), 'a: {}\n');
  t.is(palYamlFromEnv(['PATH=/bin']), undefined);
});

const payload = (o: unknown): Uint8Array => Buffer.from(JSON.stringify(o));

test('the PAL payload: labels and value (Go []byte base64), +base64 decoded once more', (t) => {
  const v = Buffer.from('s3cret');
  const plain = decodePalPayload(payload({ labels: ['app', 'db'], value: v.toString('base64') }), false, 64);
  t.deepEqual(plain.labels, ['app', 'db']);
  t.is(plain.value.toString(), 's3cret');
  const twice = Buffer.from(v.toString('base64')).toString('base64');
  t.is(decodePalPayload(payload({ Labels: ['app'], Value: twice }), true, 64).value.toString(), 's3cret');
});

test('hostile PAL payloads are refused with a reason', (t) => {
  const cases: Array<[Uint8Array, RegExp]> = [
    [Buffer.from('not json'), /not JSON/],
    [Buffer.from([0xff, 0xfe]), /not JSON/],
    [payload([1]), /not a JSON object/],
    [payload({ value: 'aGk=' }), /no list of labels/],
    [payload({ labels: [], value: 'aGk=' }), /no list of labels/],
    [payload({ labels: ['Upper'], value: 'aGk=' }), /upper case/],
    [payload({ labels: [7], value: 'aGk=' }), /must be a string/],
    [payload({ labels: ['a'], value: 7 }), /not a base64 string/],
    [payload({ labels: ['a'], value: '***' }), /not base64/],
    [payload({ labels: ['a'], labelS: ['b'], value: 'aGk=' }), /twice/],
    [payload({ labels: ['a'], value: Buffer.alloc(100).toString('base64') }), /larger than limits.secret_bytes/],
  ];
  for (const [bytes, reason] of cases) t.throws(() => decodePalPayload(bytes, false, 64), { message: reason });
  t.throws(
    () => decodePalPayload(payload({ labels: ['a'], value: Buffer.from('%%%%').toString('base64') }), true, 64),
    {
      message: /\+base64 value is not base64/,
    },
  );
});

test('palEntries: pgp entries get the labels of their payload; ro and failures are per-entry problems', async (t) => {
  const yaml = `prod:\n  env:\n    DB_PASSWORD: "pgp:${CT}"\n    BROKEN: "pgp:${Buffer.from('x').toString('base64')}"\n    RO: "ro:${CT}"\n`;
  const seen: ManifestEntry[] = [];
  const got = await palEntries(
    { image: IMAGE, config: { env: [`PAL_SECRETS_YAML=${yaml}`], labels: {} } },
    {
      maxCiphertextBytes: 1024,
      maxYamlBytes: 4096,
      payloadLabels: (e) => {
        seen.push(e);
        return e.name === 'BROKEN'
          ? Promise.reject(new Error('not an OpenPGP message'))
          : Promise.resolve({ labels: ['app'], size: 6 });
      },
    },
  );
  const db = got.entries.get('DB_PASSWORD')!;
  t.deepEqual(db.labels, ['app']);
  t.is(db.size, 6);
  t.is(db.image, IMAGE);
  t.is(db.backend, 'openpgp');
  t.deepEqual(db.palFormat, { source: 'env "DB_PASSWORD"', base64: false });
  t.is(db.ciphertext?.toString(), 'an OpenPGP message');
  t.deepEqual([...got.entries.keys()], ['DB_PASSWORD']);
  const text = got.problems.map((p) => `${p.file} ${p.message}`).join('\n');
  t.regex(text, /config Env PAL_SECRETS_YAML env "BROKEN": cannot read the labels sealed in it: not an OpenPGP/);
  t.regex(text, /env "RO": ro: needs the Red October backend, which is not configured/);
  t.is(seen.length, 2, 'ro: entries are never decrypted to learn labels');
});

test('palEntries: the node environment wins over the image label; both sources at once are refused', async (t) => {
  const yaml = `a:\n  env:\n    A: "pgp:${CT}"\nb:\n  env:\n    B: "pgp:${CT}"\n`;
  const opts = {
    maxCiphertextBytes: 1024,
    maxYamlBytes: 4096,
    payloadLabels: () => Promise.resolve({ labels: ['app'], size: 6 }),
  };
  const config = { env: [`PAL_SECRETS_YAML=${yaml}`], labels: { 'pal.environment': 'a' } };
  t.deepEqual([...(await palEntries({ image: IMAGE, config }, opts)).entries.keys()], ['A']);
  t.deepEqual([...(await palEntries({ image: IMAGE, config }, { ...opts, environment: 'b' })).entries.keys()], ['B']);
  const both = await palEntries({ image: IMAGE, config, file: Buffer.from(yaml) }, opts);
  t.is(both.entries.size, 0);
  t.regex(both.problems[0]!.message, /both PAL_SECRETS_YAML in its config and \/etc\/pal\/pal-secrets.yaml/);
  const none = await palEntries({ image: IMAGE, config: { env: [], labels: {} } }, opts);
  t.deepEqual([none.entries.size, none.problems.length], [0, 0]);
});

test('palEntries: ro: entries take the Red October clear labels (no decrypt), or a per-entry problem', async (t) => {
  const roCt = Buffer.from('{"Version":-1}').toString('base64');
  const yaml = `prod:\n  env:\n    RO: "ro:${roCt}"\n    RO_B64: "ro+base64:${roCt}"\n    BAD: "ro:${CT}"\n`;
  const seen: string[] = [];
  const got = await palEntries(
    { image: IMAGE, config: { env: [`PAL_SECRETS_YAML=${yaml}`], labels: {} } },
    {
      maxCiphertextBytes: 1024,
      maxYamlBytes: 4096,
      payloadLabels: () => Promise.reject(new Error('ro: entries are never decrypted')),
      roLabels: (e) => {
        seen.push(e.ciphertext!.toString('latin1'));
        if (e.name === 'BAD') throw new Error('not a PAL Red October ciphertext');
        return { labels: ['billing', 'eu'], size: 9 };
      },
    },
  );
  const ro = got.entries.get('RO')!;
  t.is(ro.backend, 'redoctober');
  t.deepEqual(ro.labels, ['billing', 'eu']);
  t.is(ro.size, 9);
  t.deepEqual(ro.palFormat, { source: 'env "RO"', base64: false });
  t.is(ro.ciphertext?.toString('latin1'), roCt, 'kept as the base64 text Red October /encrypt returned');
  t.deepEqual(got.entries.get('RO_B64')!.palFormat, { source: 'env "RO_B64"', base64: true });
  t.deepEqual(seen, [roCt, roCt, CT]);
  t.deepEqual([...got.entries.keys()], ['RO', 'RO_B64']);
  t.regex(got.problems.map((p) => p.message).join('\n'), /env "BAD": cannot read its Red October labels: not a PAL/);
});
