import test from 'ava';
import { Readable } from 'node:stream';
import { pack, type Header } from 'tar-stream';
import { ImageManifests, type ContainerArchiveReader } from '../../../src/store/index.js';
import { readPalArchive, ImageArchiveError } from '../../../src/store/image/index.js';

const IMAGE = `sha256:${'a'.repeat(64)}`;
const OTHER = `sha256:${'b'.repeat(64)}`;
const LIMITS = { manifestBytes: 4096, fileBytes: 1024, entries: 16, totalBytes: 8192 };

type Item = { header: Partial<Header> & { name: string }; body?: string | Buffer };

function archive(items: Item[]): Readable {
  const p = pack();
  for (const { header, body } of items) p.entry(header, body ?? '');
  p.finalize();
  return Readable.from(p);
}

const dir = (name: string): Item => ({ header: { name, type: 'directory' } });
const file = (name: string, body: string | Buffer): Item => ({ header: { name, type: 'file' }, body });

const MANIFEST = `secrets:\n  db:\n    file: db.pgp\n    labels: [app]\n  missing:\n    file: nope.pgp\n    labels: [app]\n`;

test('an archive of /etc/pal gives the manifest text and the files by in-image path', async (t) => {
  const got = await readPalArchive(
    archive([dir('pal/'), file('pal/secrets.yaml', MANIFEST), file('pal/db.pgp', 'CIPHER')]),
    LIMITS,
  );
  t.is(got.manifestText, MANIFEST);
  t.deepEqual([...got.files.keys()], ['/etc/pal/db.pgp']);
  t.is(got.files.get('/etc/pal/db.pgp')!.toString(), 'CIPHER');
});

test('a symlinked secrets.yaml is refused, never followed', async (t) => {
  const err = await t.throwsAsync(
    readPalArchive(
      archive([dir('pal/'), { header: { name: 'pal/secrets.yaml', type: 'symlink', linkname: '/etc/shadow' } }]),
      LIMITS,
    ),
  );
  t.true(err instanceof ImageArchiveError);
  t.regex(err.message, /secrets\.yaml is a symlink/);
});

test('hardlinks, devices, oversized files, too many entries and escaping names are refused', async (t) => {
  const cases: Array<[Item[], RegExp]> = [
    [[{ header: { name: 'pal/db.pgp', type: 'link', linkname: 'pal/secrets.yaml' } }], /is a link/],
    [[{ header: { name: 'pal/dev', type: 'character-device' } }], /character-device/],
    [[file('pal/db.pgp', Buffer.alloc(2000))], /larger than 1024/],
    [[file('pal/secrets.yaml', 'x'.repeat(5000))], /larger than 4096/],
    [Array.from({ length: 20 }, (_, i) => dir(`pal/d${i}/`)), /more than 16 entries/],
    [[file('pal/../../etc/shadow', 'x')], /escapes/],
    [[file('etc/shadow', 'x')], /outside/],
    [[file('pal/secrets.yaml', Buffer.from([0xff, 0xfe, 0x00]))], /not UTF-8/],
  ];
  for (const [items, message] of cases) {
    const err = await t.throwsAsync(readPalArchive(archive(items), LIMITS));
    t.true(err instanceof ImageArchiveError, String(message));
    t.regex(err.message, message);
  }
});

test('garbage instead of a tar stream is an error, not a crash', async (t) => {
  const err = await t.throwsAsync(readPalArchive(Readable.from([Buffer.alloc(1024, 0x41)]), LIMITS));
  t.true(err instanceof ImageArchiveError);
});

function reader(byContainer: Record<string, () => Readable | undefined>, calls: string[]): ContainerArchiveReader {
  return (containerId, path) => {
    calls.push(`${containerId}:${path}`);
    const make = byContainer[containerId];
    if (!make) return Promise.reject(new Error('docker unreachable'));
    return Promise.resolve(make());
  };
}

test('an image manifest is validated like the host one, in memory, and read once per image id', async (t) => {
  const calls: string[] = [];
  const reported: string[] = [];
  const images = new ImageManifests({
    readArchive: reader(
      { c1: () => archive([dir('pal/'), file('pal/secrets.yaml', MANIFEST), file('pal/db.pgp', 'CIPHER')]) },
      calls,
    ),
    maxCiphertextBytes: 1024,
    report: (_image, p) => reported.push(p.message),
  });
  const [a, b] = await Promise.all([images.get('c1', IMAGE), images.get('c1', IMAGE)]);
  t.is(a, b);
  t.deepEqual(calls, ['c1:/etc/pal']);
  const db = a.entries.get('db')!;
  t.is(db.image, IMAGE);
  t.is(db.ciphertext!.toString(), 'CIPHER');
  t.is(db.ciphertextPath, '/etc/pal/db.pgp');
  t.deepEqual(db.labels, ['app']);
  t.false(a.entries.has('missing'));
  t.true(reported.some((m) => /nope\.pgp: ciphertext file not found in the image/.test(m)));
  await images.get('c2-same-image', IMAGE);
  t.is(calls.length, 1, 'cached by image id');
});

test('a malformed or refused image manifest serves nothing and says why; no /etc/pal is no secrets', async (t) => {
  const reported: string[] = [];
  const images = new ImageManifests({
    readArchive: reader(
      {
        bad: () => archive([file('pal/secrets.yaml', 'secrets: [not, a, map]\n')]),
        link: () => archive([{ header: { name: 'pal/secrets.yaml', type: 'symlink', linkname: '/etc/shadow' } }]),
        none: () => undefined,
      },
      [],
    ),
    maxCiphertextBytes: 1024,
    report: (image, p) => reported.push(`${image} ${p.message}`),
  });
  const bad = await images.get('bad', IMAGE);
  t.is(bad.entries.size, 0);
  t.regex(bad.problems[0]!.message, /must be a mapping.*image manifest refused/);
  const link = await images.get('link', OTHER);
  t.is(link.entries.size, 0);
  t.regex(link.problems[0]!.message, /symlink/);
  const none = await images.get('none', `sha256:${'c'.repeat(64)}`);
  t.is(none.entries.size, 0);
  t.is(none.problems.length, 0);
  t.is(reported.length, 2);
});

test('a runtime failure is not cached: the next sight of the image tries again', async (t) => {
  const calls: string[] = [];
  const images = new ImageManifests({ readArchive: reader({}, calls), maxCiphertextBytes: 1024 });
  const first = await images.get('gone', IMAGE);
  t.regex(first.problems[0]!.message, /docker unreachable/);
  await images.get('gone', IMAGE);
  t.is(calls.length, 2);
});

test('an archive that never ends times out', async (t) => {
  const images = new ImageManifests({
    readArchive: () => Promise.resolve(new Readable({ read() {} })),
    maxCiphertextBytes: 1024,
    timeoutMs: 50,
  });
  const m = await images.get('slow', IMAGE);
  t.regex(m.problems[0]!.message, /longer than 50 ms/);
});
