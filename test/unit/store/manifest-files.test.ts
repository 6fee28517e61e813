// The manifest's file handling: FIFOs, symlinks and devices never block a load, and the File
// safety rules (SPEC §3) apply to the manifest and every ciphertext it names.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ManifestStore, parseManifest } from '../../../src/store/index.js';

const dirs: string[] = [];
test.after.always(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function fresh(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pal-manifest-files-'));
  dirs.push(dir);
  return dir;
}

const MANIFEST = `secrets:
  good:
    file: good.pgp
    labels: [a]
  pipe:
    file: pipe.pgp
    labels: [a]
`;

test('a FIFO named in the manifest is a problem for that entry, quickly; the others are served', async (t) => {
  // Without the fix parseManifest never settles (open(2) of a FIFO blocks): fail instead of hanging.
  t.timeout(30_000);
  const dir = await fresh();
  await writeFile(path.join(dir, 'good.pgp'), 'ciphertext');
  execFileSync('mkfifo', ['-m', '0600', path.join(dir, 'pipe.pgp')]);
  const parsed = await parseManifest(path.join(dir, 'secrets.yaml'), MANIFEST);
  t.true(parsed.ok);
  if (!parsed.ok) return;
  t.deepEqual([...parsed.entries.keys()], ['good']);
  t.is(parsed.problems.length, 1);
  t.is(parsed.problems[0]!.entry, 'pipe');
  t.regex(parsed.problems[0]!.message, /pipe\.pgp: .*not a regular file/);
});

test('a character device named in the manifest is refused, not read', async (t) => {
  t.timeout(30_000);
  const dir = await fresh();
  await writeFile(path.join(dir, 'good.pgp'), 'ciphertext');
  // A /dev/zero inside the manifest dir would be read until the size cap without the regular-file check.
  execFileSync('mknod', ['-m', '0600', path.join(dir, 'pipe.pgp'), 'c', '1', '5']);
  const parsed = await parseManifest(path.join(dir, 'secrets.yaml'), MANIFEST);
  t.true(parsed.ok);
  if (!parsed.ok) return;
  t.deepEqual([...parsed.entries.keys()], ['good']);
  t.is(parsed.problems[0]!.entry, 'pipe');
});

test('ManifestStore.open refuses a FIFO as the manifest itself without blocking', async (t) => {
  t.timeout(30_000);
  const dir = await fresh();
  const file = path.join(dir, 'secrets.yaml');
  execFileSync('mkfifo', ['-m', '0600', file]);
  const store = await ManifestStore.open(file, { watch: false }).catch((e: Error) => e);
  if (store instanceof ManifestStore) {
    await store.close();
    t.fail('opened a FIFO manifest');
  } else t.regex(store.message, /not a regular file/);
});

const ONE = `secrets:
  good:
    file: good.pgp
    labels: [a]
`;

test('File safety at start: a 0666 manifest or a group-writable ciphertext makes ManifestStore.open fail, naming file and mode', async (t) => {
  const dir = await fresh();
  const file = path.join(dir, 'secrets.yaml');
  await writeFile(path.join(dir, 'good.pgp'), 'ciphertext');
  await writeFile(file, ONE);
  await chmod(file, 0o666);
  await t.throwsAsync(ManifestStore.open(file, { watch: false }), {
    message: `manifest ${file}: mode 0666 is writable by group or others (owner uid 0)`,
  });
  await chmod(file, 0o644);
  await chmod(path.join(dir, 'good.pgp'), 0o664);
  await t.throwsAsync(ManifestStore.open(file, { watch: false }), {
    message: new RegExp(`ciphertext ${dir}/good.pgp: mode 0664 is writable by group or others`),
  });
  await chmod(dir, 0o777);
  await chmod(path.join(dir, 'good.pgp'), 0o644);
  await t.throwsAsync(ManifestStore.open(file, { watch: false }), {
    message: new RegExp(`directory ${dir} \\(owner uid 0, mode 0777\\) is writable`),
  });
  await chmod(dir, 0o700);
  const store = await ManifestStore.open(file, { watch: false });
  t.deepEqual([...store.current().entries.keys()], ['good']);
  await store.close();
});

test('File safety at a reload: an unsafe manifest or ciphertext is a problem and the last good keeps serving', async (t) => {
  const dir = await fresh();
  const file = path.join(dir, 'secrets.yaml');
  await writeFile(path.join(dir, 'good.pgp'), 'ciphertext');
  await writeFile(file, ONE);
  const store = await ManifestStore.open(file, { watch: false });
  t.teardown(() => store.close());
  const first = store.current().entries.get('good')!;

  await writeFile(path.join(dir, 'good.pgp'), 'substituted');
  await chmod(path.join(dir, 'good.pgp'), 0o666);
  let snap = await store.reload();
  t.is(snap.entries.get('good'), first);
  t.true(
    snap.problems.some(
      (p) =>
        p.safety &&
        p.entry === 'good' &&
        /good\.pgp: mode 0666 is writable by group or others.*manifest rejected, serving the last good version/.test(
          p.message,
        ),
    ),
  );

  await chmod(path.join(dir, 'good.pgp'), 0o644);
  await chmod(file, 0o646);
  snap = await store.reload();
  t.is(snap.entries.get('good'), first);
  t.true(snap.problems.some((p) => p.safety && /mode 0646 is writable/.test(p.message)));

  await chmod(file, 0o644);
  snap = await store.reload();
  t.not(snap.entries.get('good')!.version, first.version);
  t.deepEqual(snap.problems, []);
});
