import test from 'ava';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ManifestStore, parseManifest, type ManifestSnapshot } from '../../../src/store/index.js';

async function fresh(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'pal-manifest-'));
}

const dirs: string[] = [];
test.after.always(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function setup(manifest: string, files: Record<string, string> = {}): Promise<{ dir: string; file: string }> {
  const dir = await fresh();
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  const file = path.join(dir, 'secrets.yaml');
  await writeFile(file, manifest);
  return { dir, file };
}

test('a good manifest: entries with defaults, absolute paths, versions', async (t) => {
  const { dir, file } = await setup(
    `# comment
secrets:
  db-password:
    file: db-password.pgp
    labels: [production-team-secret]
    mode: "0440"
  api.key:
    file: sub/api.pgp
    labels: [a, b, a]
    mode: 0400
    size: 12
  2024:
    file: ok.pgp
    labels: [n]
  payments-key:
    ro: payments-key.ro
    labels: [billing]
    namespaces: [payments, payments]
`,
    { 'db-password.pgp': 'ct1', 'sub/api.pgp': 'ct2', 'payments-key.ro': 'ct3', 'ok.pgp': 'ct4' },
  );
  const r = await parseManifest(file, await (await import('node:fs/promises')).readFile(file, 'utf8'));
  t.true(r.ok);
  if (!r.ok) return;
  t.deepEqual(r.problems, []);
  const db = r.entries.get('db-password')!;
  t.is(db.mode, 0o440);
  t.is(db.backend, 'openpgp');
  t.is(db.ciphertextPath, path.join(dir, 'db-password.pgp'));
  t.regex(db.version, /^[0-9a-f]{64}$/);
  const api = r.entries.get('api.key')!;
  t.is(api.mode, 0o400, 'unquoted 0400 is read as octal');
  t.deepEqual(api.labels, ['a', 'b']);
  t.is(api.size, 12);
  t.is(r.entries.get('payments-key')!.backend, 'redoctober');
  t.deepEqual(r.entries.get('payments-key')!.namespaces, ['payments']);
  t.is(db.namespaces, undefined);
  t.true(r.entries.has('2024'), 'a numeric-looking name is a name');
  t.not(db.version, api.version);
});

// Line numbers are of the whole file: "secrets:" is line 1, the good entry lines 2-4.
const badEntries: Array<[string, string, number, RegExp]> = [
  ['bad name', '  "../x":\n    file: ok.pgp\n    labels: [a]\n', 5, /invalid name/],
  ['leading dot', '  .hidden:\n    file: ok.pgp\n    labels: [a]\n', 5, /must not start with a dot/],
  ['unknown backend key', '  s:\n    vault: ok.pgp\n    labels: [a]\n', 6, /unknown key "vault"/],
  ['both backends', '  s:\n    file: ok.pgp\n    ro: ok.pgp\n    labels: [a]\n', 7, /exactly one of/],
  ['no backend', '  s:\n    labels: [a]\n', 5, /missing "file"/],
  ['missing file', '  s:\n    file: missing.pgp\n    labels: [a]\n', 6, /not found/],
  ['path escape', '  s:\n    file: ../outside.pgp\n    labels: [a]\n', 6, /inside the manifest directory/],
  ['absolute path outside', '  s:\n    file: /etc/passwd\n    labels: [a]\n', 6, /inside the manifest directory/],
  ['bad mode', '  s:\n    file: ok.pgp\n    labels: [a]\n    mode: "0999"\n', 8, /mode: expected an octal mode/],
  ['mode too wide', '  s:\n    file: ok.pgp\n    labels: [a]\n    mode: "04755"\n', 8, /mode/],
  ['no labels', '  s:\n    file: ok.pgp\n    labels: []\n', 5, /at least one label/],
  ['bad label', '  s:\n    file: ok.pgp\n    labels: ["a b"]\n', 7, /label "a b" has characters outside/],
  ['labels not a list', '  s:\n    file: ok.pgp\n    labels: a\n', 7, /labels: expected a list/],
  ['entry not a mapping', '  s: ok.pgp\n', 5, /expected a mapping/],
  ['name not a string', '  ? [x]\n  : { file: ok.pgp, labels: [a] }\n', 5, /names must be strings/],
  [
    'namespaces not a list',
    '  s:\n    file: ok.pgp\n    labels: [a]\n    namespaces: payments\n',
    8,
    /namespaces: expected a list/,
  ],
  ['empty namespaces', '  s:\n    file: ok.pgp\n    labels: [a]\n    namespaces: []\n', 8, /at least one namespace/],
  ['bad namespace', '  s:\n    file: ok.pgp\n    labels: [a]\n    namespaces: [Pay_ments]\n', 8, /DNS-1123/],
];

for (const [what, entry, line, re] of badEntries) {
  test(`bad entry is reported with its line and skipped, others served: ${what}`, async (t) => {
    const { file } = await setup(`secrets:\n  good:\n    file: ok.pgp\n    labels: [a]\n${entry}`, { 'ok.pgp': 'x' });
    const store = await ManifestStore.open(file, { watch: false });
    t.teardown(() => store.close());
    const snap = store.current();
    t.deepEqual([...snap.entries.keys()], ['good']);
    t.is(snap.problems.length, 1, JSON.stringify(snap.problems));
    const p = snap.problems[0]!;
    t.regex(p.message, re);
    t.is(p.file, file);
    t.is(p.line, line, p.message);
  });
}

test('symlink escaping the manifest directory is refused', async (t) => {
  const outside = await fresh();
  dirs.push(outside);
  await writeFile(path.join(outside, 'secret.pgp'), 'x');
  const { dir, file } = await setup('secrets:\n  s:\n    file: link.pgp\n    labels: [a]\n');
  await symlink(path.join(outside, 'secret.pgp'), path.join(dir, 'link.pgp'));
  const store = await ManifestStore.open(file, { watch: false });
  t.teardown(() => store.close());
  t.is(store.current().entries.size, 0);
  t.regex(store.current().problems[0]!.message, /through a symlink/);
});

test('YAML syntax error or a wrong shape keeps the last good snapshot, with the problem recorded', async (t) => {
  const { file } = await setup('secrets:\n  s:\n    file: ok.pgp\n    labels: [a]\n', { 'ok.pgp': 'x' });
  const store = await ManifestStore.open(file, { watch: false });
  t.teardown(() => store.close());
  t.is(store.current().entries.size, 1);
  await writeFile(file, 'secrets:\n  s:\n    file: ok.pgp\n   labels: [a\n');
  const snap = await store.reload();
  t.is(snap.entries.size, 1, 'last good kept');
  t.is(snap.generation, 2);
  t.regex(snap.problems[0]!.message, /YAML syntax error.*last good/);
  t.is(typeof snap.problems[0]!.line, 'number');
  await writeFile(file, 'secrets: [a, b]\n');
  t.is((await store.reload()).entries.size, 1);
  await writeFile(file, 'secrets:\n' + '#'.repeat(5 * 1024 * 1024) + '\n');
  const huge = await store.reload();
  t.is(huge.entries.size, 1);
  t.regex(huge.problems[0]!.message, /larger than/);
  await rm(file);
  const gone = await store.reload();
  t.is(gone.entries.size, 1);
  t.regex(gone.problems[0]!.message, /not found/);
});

test('missing manifest at start → empty snapshot with a problem', async (t) => {
  const dir = await fresh();
  dirs.push(dir);
  const store = await ManifestStore.open(path.join(dir, 'secrets.yaml'), { watch: false });
  t.teardown(() => store.close());
  t.is(store.current().entries.size, 0);
  t.regex(store.current().problems[0]!.message, /manifest not found/);
});

test('rotation changes the version', async (t) => {
  const { dir, file } = await setup('secrets:\n  s:\n    file: ok.pgp\n    labels: [a]\n', { 'ok.pgp': 'v1' });
  const store = await ManifestStore.open(file, { watch: false });
  t.teardown(() => store.close());
  const v1 = store.current().entries.get('s')!.version;
  await writeFile(path.join(dir, 'ok.pgp'), 'v2');
  const v2 = (await store.reload()).entries.get('s')!.version;
  t.not(v1, v2);
});

function nextChange(
  store: ManifestStore,
  pred: (s: ManifestSnapshot) => boolean,
  ms = 10_000,
): Promise<ManifestSnapshot> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no matching change event within deadline')), ms);
    store.onChange((snap) => {
      if (pred(snap)) {
        clearTimeout(timer);
        resolve(snap);
      }
    });
  });
}

test('watcher: a rename-replaced manifest and a rename-replaced ciphertext are picked up', async (t) => {
  const { dir, file } = await setup('secrets:\n  s:\n    file: ok.pgp\n    labels: [a]\n', { 'ok.pgp': 'v1' });
  const store = await ManifestStore.open(file, { watch: true, debounceMs: 50 });
  t.teardown(() => store.close());
  const v1 = store.current().entries.get('s')!.version;

  // An editor-style save: write a temp file, rename it over the manifest.
  const added = nextChange(store, (s) => s.entries.has('t'));
  await writeFile(path.join(dir, 't.pgp'), 'other');
  await writeFile(
    path.join(dir, '.secrets.yaml.tmp'),
    'secrets:\n  s:\n    file: ok.pgp\n    labels: [a]\n  t:\n    file: t.pgp\n    labels: [b]\n',
  );
  await rename(path.join(dir, '.secrets.yaml.tmp'), file);
  const snap = await added;
  t.deepEqual([...snap.entries.keys()].sort(), ['s', 't']);

  // `pal seal`-style rotation of a ciphertext by rename.
  const rotated = nextChange(store, (s) => s.entries.get('s')?.version !== v1);
  await writeFile(path.join(dir, '.ok.pgp.tmp'), 'v2');
  await rename(path.join(dir, '.ok.pgp.tmp'), path.join(dir, 'ok.pgp'));
  const snap2 = await rotated;
  t.not(snap2.entries.get('s')!.version, v1);
});

test('watcher: a ciphertext that appears after the manifest names it is picked up', async (t) => {
  const { dir, file } = await setup('secrets:\n  s:\n    file: later.pgp\n    labels: [a]\n');
  const store = await ManifestStore.open(file, { watch: true, debounceMs: 50 });
  t.teardown(() => store.close());
  t.regex(store.current().problems[0]!.message, /not found/);
  const appeared = nextChange(store, (s) => s.entries.has('s'));
  await writeFile(path.join(dir, 'later.pgp'), 'ct');
  t.deepEqual((await appeared).problems, []);
});

test('watcher: a broken edit keeps serving, the fix is picked up', async (t) => {
  const { file } = await setup('secrets:\n  s:\n    file: ok.pgp\n    labels: [a]\n', { 'ok.pgp': 'v1' });
  const store = await ManifestStore.open(file, { watch: true, debounceMs: 50 });
  t.teardown(() => store.close());
  const broken = nextChange(store, (s) => s.problems.length > 0);
  await writeFile(file, 'secrets: [\n');
  t.is((await broken).entries.size, 1);
  const fixed = nextChange(store, (s) => s.problems.length === 0 && s.entries.get('s')?.labels[0] === 'z');
  await writeFile(file, 'secrets:\n  s:\n    file: ok.pgp\n    labels: [z]\n');
  t.is((await fixed).entries.size, 1);
});

test('cache: per-secret plaintext TTL in seconds or s/m/h, 0 allowed; anything else is a problem', async (t) => {
  const { file } = await setup(
    `secrets:
  never:
    ro: a.ro
    labels: [l]
    cache: 0
  secs: { file: a.ro, labels: [l], cache: 90 }
  mins: { file: a.ro, labels: [l], cache: "5m" }
  dflt: { file: a.ro, labels: [l] }
  neg: { file: a.ro, labels: [l], cache: -1 }
  text: { file: a.ro, labels: [l], cache: "soon" }
  huge: { file: a.ro, labels: [l], cache: "100h" }
  frac: { file: a.ro, labels: [l], cache: 1.5 }
`,
    { 'a.ro': 'x' },
  );
  const r = await parseManifest(file, await (await import('node:fs/promises')).readFile(file, 'utf8'));
  t.true(r.ok);
  if (!r.ok) return;
  t.is(r.entries.get('never')?.cacheTtlMs, 0);
  t.is(r.entries.get('never')?.backend, 'redoctober');
  t.is(r.entries.get('secs')?.cacheTtlMs, 90_000);
  t.is(r.entries.get('mins')?.cacheTtlMs, 300_000);
  t.is(r.entries.get('dflt')?.cacheTtlMs, undefined);
  t.deepEqual([...r.entries.keys()].sort(), ['dflt', 'mins', 'never', 'secs']);
  t.is(r.problems.filter((p) => /cache: expected/.test(p.message)).length, 4);
});
