// Hostile YAML (issue 21 items 1, 2, 4): deep nesting and inputs that made the parser
// super-linear. Bad input is an error with a reason: never a crash, an abort,
// an unhandled rejection, silently accepted garbage or a stalled event loop.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureNesting, parseBoundedYaml } from '../../../src/shared/yaml-bounded.js';
import { upsertManifestEntryText } from '../../../src/store/edit.js';
import { parseManifest } from '../../../src/store/index.js';
import { growth, growthAsync } from '../../helpers/complexity.js';
import { configError, manifestDir } from '../../helpers/yaml-fixtures.js';

// ---- 21.2: nesting depth is bounded before the recursive parts of the YAML library run ----

test('21.2: deep nesting parsed twice in a fresh process is refused with a reason, not an abort', (t) => {
  const dist = (p: string): string => fileURLToPath(new URL(`../../../src/${p}`, import.meta.url));
  const script = `
    const { parseConfig } = await import(${JSON.stringify(dist('config/index.js'))});
    const { parseManifest } = await import(${JSON.stringify(dist('store/manifest.js'))});
    const { upsertManifestEntryText } = await import(${JSON.stringify(dist('store/edit.js'))});
    const text = ' -'.repeat(1000);
    const out = [];
    for (let i = 0; i < 2; i++) {
      try { parseConfig('/etc/pal/pald.yaml', text, {}); out.push('config accepted'); } catch (e) { out.push(e.message); }
      const m = await parseManifest('/tmp/secrets.yaml', text);
      out.push(m.ok ? 'manifest accepted' : m.problems[0].message);
      try { upsertManifestEntryText(text, { name: 'a', file: 'a.pgp', labels: ['l'], mode: 0o400 }); out.push('edit accepted'); } catch (e) { out.push(e.message); }
    }
    process.stdout.write(JSON.stringify(out));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  t.is(r.signal, null, `killed by ${r.signal}: ${r.stderr.slice(0, 500)}`);
  t.is(r.status, 0, r.stderr.slice(0, 500));
  const out = JSON.parse(r.stdout) as string[];
  t.is(out.length, 6);
  for (const message of out) t.regex(message, /nesting deeper than 64 levels/);
});

const deepShapes: ReadonlyArray<readonly [string, string]> = [
  ['compact sequences', '- '.repeat(3000) + 'x\n'],
  ['sequences after a key', 'secrets:\n  ' + '- '.repeat(3000) + 'x:\n  y: 1\n'],
  ['flow sequences', '['.repeat(5000)],
  ['closed flow sequences', 'a: ' + '['.repeat(200) + ']'.repeat(200) + '\n'],
  ['flow mappings', '{a: '.repeat(3000)],
  ['explicit keys', '? '.repeat(3000) + 'x\n'],
  ['indented mappings', Array.from({ length: 500 }, (_, i) => `${' '.repeat(i)}k:`).join('\n') + '\n'],
  ['sequences of mappings', Array.from({ length: 1000 }, (_, i) => `${'  '.repeat(i)}- k:`).join('\n') + '\n'],
  // The parser's error recovery nests what indentation says is closed: two levels per repeat.
  ['error-recovery nesting', 'x: : :\n[]\n'.repeat(3000)],
  [
    'flow inside block',
    Array.from({ length: 40 }, (_, i) => `${' '.repeat(i)}k:`).join('\n') + ' ' + '['.repeat(40) + '\n',
  ],
];

for (const [what, text] of deepShapes) {
  test(`21.2: deep ${what} are refused by config, manifest and editor alike`, async (t) => {
    t.regex(configError(text)?.message ?? 'accepted', /YAML syntax error: nesting deeper than 64 levels/);
    const dir = await manifestDir();
    const m = await parseManifest(path.join(dir, 'secrets.yaml'), text);
    t.false(m.ok);
    t.regex(m.problems[0]?.message ?? '', /nesting deeper than 64 levels/);
    t.throws(() => upsertManifestEntryText(text, { name: 'a', file: 'a.pgp', labels: ['l'], mode: 0o400 }), {
      message: /nesting deeper than 64 levels/,
    });
  });
}

test('21.2: nesting within the limit still parses, block and flow', (t) => {
  const block = Array.from({ length: 25 }, (_, i) => `${'    '.repeat(i)}k${i}:`).join('\n') + ' end\n';
  t.deepEqual(parseBoundedYaml(block).errors, []);
  const flow = 'a: ' + '['.repeat(60) + ']'.repeat(60) + '\n';
  t.deepEqual(parseBoundedYaml(flow).errors, []);
  const seqs = Array.from({ length: 12 }, (_, i) => `${'  '.repeat(i)}- k:`).join('\n') + ' end\n';
  t.deepEqual(parseBoundedYaml(seqs).errors, []);
});

test('21.2: the document size is bounded before parsing', (t) => {
  const text = 'mountpoint: /a\n#' + 'x'.repeat(1024 * 1024) + '\n';
  t.regex(configError(text)?.message ?? 'accepted', /larger than the limit of 1048576/);
  t.regex(
    parseBoundedYaml('a: 1\n', { maxBytes: 4, maxDepth: 64 }).errors[0]?.message ?? '',
    /larger than the limit of 4/,
  );
});

// ---- 21.1 (the parse part): the reproducer resolves to a problem, it does not reject ----

test('21.1: the stack-overflow manifest is a problem with a reason, not a rejection', async (t) => {
  const dir = await manifestDir();
  const m = await parseManifest(path.join(dir, 'secrets.yaml'), 'secrets:\n  ' + '- '.repeat(3000) + 'x:\n  y: 1\n');
  t.false(m.ok);
  t.is(m.problems[0]?.line, 2);
  t.regex(m.problems[0]?.message ?? '', /YAML syntax error: nesting deeper than 64 levels/);
});

// ---- 21.4: linear in the input ----

test.serial('21.4: rejecting a config with a long run of stray quotes is linear in its length (counted work)', (t) => {
  // 8× the input: linear is ~8× the counted work (not time: see helpers/complexity.ts), quadratic 64×.
  const r = growth(
    (n) => 'audit: {path: "-"}' + '"'.repeat(n),
    (text) => configError(text),
    8_192,
    8,
  );
  t.log(`work: 8k quotes ${r.small}, 64k ${r.large}, ratio ${r.ratio.toFixed(2)}`);
  t.true(r.small >= 8_192, 'the counter sees the parse');
  t.regex(
    configError('audit: {path: "-"}' + '"'.repeat(1000))!.message,
    /^\/etc\/pal\/pald\.yaml:1: YAML syntax error: /,
  );
  t.true(r.ratio < 12, `8× the input took ${r.ratio.toFixed(2)}× the work (quadratic is 64×)`);
});

test.serial('21.4: a manifest with many keys parses with work linear in the keys', async (t) => {
  const dir = await manifestDir();
  const file = path.join(dir, 'secrets.yaml');
  const text = (n: number): string => 'secrets:\n' + Array.from({ length: n }, (_, i) => `  k${i}: 1\n`).join('');
  const r = await growthAsync(text, (x) => parseManifest(file, x), 2_500, 8);
  t.log(`work: 2.5k keys ${r.small}, 20k ${r.large}, ratio ${r.ratio.toFixed(2)}`);
  t.true(r.small >= 2_500, 'the counter sees the parse');
  t.true(r.ratio < 12, `8× the keys took ${r.ratio.toFixed(2)}× the work (quadratic is 64×)`);
});

test('21.4: duplicate keys are still refused, with the line of the repeat', async (t) => {
  const err = configError('mountpoint: /a\nkeys: /k\nmountpoint: /b\n');
  t.is(err?.line, 3);
  t.regex(err?.message ?? '', /Map keys must be unique/);
  const dir = await manifestDir({ 'ok.pgp': 'x' });
  const m = await parseManifest(
    path.join(dir, 'secrets.yaml'),
    'secrets:\n  a:\n    file: ok.pgp\n    labels: [l]\n  a:\n    file: ok.pgp\n    labels: [m]\n',
  );
  t.false(m.ok);
  t.deepEqual(
    m.problems.map((p) => p.line),
    [5],
  );
  t.deepEqual(parseBoundedYaml('{1: a, "1": b}\n').errors, [], 'the number 1 and the string "1" are different keys');
});

test('21.4: the seal editor keeps comments and order with the bounded parse', (t) => {
  const before = '# ops\nsecrets:\n  b:\n    file: b.pgp # keep\n    labels: [x]\n';
  const after = upsertManifestEntryText(before, { name: 'a', file: 'a.pgp', labels: ['l'], mode: 0o400 });
  t.regex(after, /^# ops\nsecrets:\n  b:\n    file: b\.pgp # keep\n/);
  t.regex(after, /  a:\n    file: a\.pgp\n    labels: \[l\]\n    mode: "0400"\n/);
  t.throws(() => upsertManifestEntryText('a: 1\na: 2\n', { name: 'a', file: 'a.pgp', labels: ['l'], mode: 0o400 }), {
    message: /line 2: Map keys must be unique/,
  });
});

test('21.2: random structure of any depth: never a throw, and refused exactly when nested deeper than the limit', (t) => {
  const atoms = [
    '- ',
    '? ',
    ': ',
    'k: ',
    '- k: ',
    '[',
    ']',
    '{',
    '}',
    ', ',
    '\n',
    '\n  ',
    '\n    ',
    ' ',
    'a',
    '"q" ',
    '&x ',
    '!t ',
    '*x',
    '|\n  z\n',
    '# c\n',
    '---\n',
    'x: : :\n[]\n',
  ];
  let seed = 21;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  let refused = 0;
  for (let i = 0; i < 1000; i++) {
    let text = '';
    for (let j = 1 + random(6); j > 0; j--)
      text += atoms[random(atoms.length)]!.repeat(1 + random(random(4) === 0 ? 150 : 8));
    let errors: readonly { message: string }[] = [];
    t.notThrows(() => (errors = parseBoundedYaml(text).errors), JSON.stringify(text));
    const tooDeep = errors.some((e) => /nesting deeper than 64 levels/.test(e.message));
    if (tooDeep) refused++;
    t.is(tooDeep, measureNesting(text) > 64, JSON.stringify(text));
  }
  t.log(`${refused} of 1000 refused as too deep`);
  t.true(refused > 50, 'the generator reaches past the limit');
});
