import test from 'ava';
import { createPalFilesystem, ROOT_INO, PAL_DIR_INO } from '../../../src/fs/index.js';
import type { FuseError } from '../../../src/native/index.js';
import {
  harness,
  entry,
  container,
  ctx,
  manifestOf,
  contentBytes,
  IMAGE_DEMO,
  IMAGE_PLAIN,
  IMAGE_BROKEN,
  type Harness,
} from './fakes.js';
import { constants } from 'node:os';

const { ENOENT, EACCES, EIO, EROFS } = constants.errno;
const O_RDONLY = 0;
const O_WRONLY = 1;
const O_RDWR = 2;

const DEMO_PID = 101;
const PLAIN_PID = 102;
const BROKEN_PID = 103;
const HOST_PID = 104;

function setup(): Harness & { fs: ReturnType<typeof createPalFilesystem> } {
  const h = harness([
    entry('db-password', ['demo'], { size: 5 }),
    entry('billing-key', ['billing']),
    entry('empty', ['demo'], { size: 0 }),
  ]);
  h.identities.set(DEMO_PID, container(DEMO_PID, IMAGE_DEMO, 'app'));
  h.identities.set(PLAIN_PID, container(PLAIN_PID, IMAGE_PLAIN, 'other'));
  h.identities.set(BROKEN_PID, container(BROKEN_PID, IMAGE_BROKEN, 'broken'));
  h.identities.set(HOST_PID, { kind: 'host', pid: HOST_PID, tgid: HOST_PID, uid: 0, gid: 0 });
  h.plaintexts.set('db-password', { bytes: Buffer.from('hunter2-secret') });
  h.plaintexts.set('empty', { bytes: Buffer.alloc(0) });
  return { ...h, fs: createPalFilesystem(h.deps) };
}

async function errnoOf(p: unknown): Promise<number | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as FuseError).errno;
  }
  return undefined;
}

const names = (list: { name: string }[]) => list.map((e) => e.name).sort();

test('readdir lists only the secrets the caller may open', async (t) => {
  const { fs } = setup();
  t.deepEqual(names(await fs.handlers.readdir(ctx(DEMO_PID), ROOT_INO)), ['.pal', 'db-password', 'empty']);
  t.deepEqual(names(await fs.handlers.readdir(ctx(PLAIN_PID), ROOT_INO)), ['.pal']);
  t.deepEqual(names(await fs.handlers.readdir(ctx(BROKEN_PID), ROOT_INO)), ['.pal']);
  t.deepEqual(names(await fs.handlers.readdir(ctx(999), ROOT_INO)), ['.pal']);
  t.deepEqual(names(await fs.handlers.readdir(ctx(DEMO_PID), PAL_DIR_INO)), [
    'secrets.json',
    'status',
    'version',
    'whoami.json',
  ]);
});

test('lookup: ENOENT for secrets the caller may not open, EACCES when identity or trust fails', async (t) => {
  const { fs, audit } = setup();
  const ok = await fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'db-password');
  t.is(ok.entryTimeout, 0);
  t.is(ok.attrTimeout, 0);
  t.is(await errnoOf(fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'billing-key')), ENOENT);
  t.is(await errnoOf(fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'no-such')), ENOENT);
  t.is(await errnoOf(fs.handlers.lookup(ctx(PLAIN_PID), ROOT_INO, 'db-password')), ENOENT);
  t.is(await errnoOf(fs.handlers.lookup(ctx(BROKEN_PID), ROOT_INO, 'db-password')), EACCES);
  t.is(await errnoOf(fs.handlers.lookup(ctx(999), ROOT_INO, 'db-password')), EACCES);
  // Unknown callers get the same answer whether or not a name exists: no existence oracle.
  t.is(await errnoOf(fs.handlers.lookup(ctx(999), ROOT_INO, 'no-such')), EACCES);
  const denials = audit.filter((e) => e.decision === 'deny');
  t.true(denials.some((e) => e.secret === 'billing-key' && /missing label billing/.test(e.reason)));
  // Every denial reaches the audit layer (it folds repeats per container, secret and reason, so
  // its counters stay exact): none is dropped here per pid.
  const before = audit.length;
  await errnoOf(fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'billing-key'));
  t.is(audit.length, before + 1);
  t.false(audit.some((e) => e.secret === 'no-such'));
});

test('attributes: owner is the caller, mode from the manifest, size = plaintext size once known', async (t) => {
  const { fs } = setup();
  const { attr } = await fs.handlers.lookup(ctx(DEMO_PID, 1234, 5678), ROOT_INO, 'db-password');
  t.is(attr.uid, 1234);
  t.is(attr.gid, 5678);
  t.is(attr.mode, 0o100400);
  t.is(attr.size, 5, 'before decrypting: the size pal seal recorded');
  const opened = await fs.handlers.open(ctx(DEMO_PID), attr.ino, O_RDONLY);
  await fs.handlers.release(ctx(DEMO_PID), attr.ino, opened.fh);
  const after = await fs.handlers.getattr(ctx(DEMO_PID), attr.ino);
  t.is(after.attr.size, 'hunter2-secret'.length);
  t.is(after.attrTimeout, 0);
  t.is(await errnoOf(fs.handlers.getattr(ctx(PLAIN_PID), attr.ino)), ENOENT);
});

test('open hands the plaintext to the addon with direct I/O and audits the allow', async (t) => {
  const { fs, audit } = setup();
  const { attr } = await fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'db-password');
  const reply = await fs.handlers.open(ctx(DEMO_PID), attr.ino, O_RDONLY);
  t.true(reply.directIo);
  t.false(reply.keepCache);
  t.is(contentBytes(reply.content)?.toString(), 'hunter2-secret');
  t.is(fs.openHandles(), 1);
  await fs.handlers.release(ctx(DEMO_PID), attr.ino, reply.fh);
  t.is(fs.openHandles(), 0);
  const last = audit.at(-1)!;
  t.like(last, { op: 'open', decision: 'allow', secret: 'db-password', pid: DEMO_PID, image: 'app:latest' });
  t.deepEqual(last.labels, ['demo', 'extra']);
  t.false(JSON.stringify(audit).includes('hunter2'));

  const empty = await fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'empty');
  const emptyReply = await fs.handlers.open(ctx(DEMO_PID), empty.attr.ino, O_RDONLY);
  t.is(emptyReply.content?.length, 0);
});

test('authorisation happens before decryption: a denied open never reaches the backend', async (t) => {
  const { fs, decrypts, audit } = setup();
  const { attr } = await fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'db-password');
  t.is(await errnoOf(fs.handlers.open(ctx(PLAIN_PID), attr.ino, O_RDONLY)), EACCES);
  t.is(await errnoOf(fs.handlers.open(ctx(BROKEN_PID), attr.ino, O_RDONLY)), EACCES);
  t.is(await errnoOf(fs.handlers.open(ctx(999), attr.ino, O_RDONLY)), EACCES);
  t.deepEqual(decrypts, []);
  t.is(audit.filter((e) => e.op === 'open' && e.decision === 'deny').length, 3);
});

test('writes are refused with EROFS', async (t) => {
  const { fs, decrypts } = setup();
  const { attr } = await fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'db-password');
  t.is(await errnoOf(fs.handlers.open(ctx(DEMO_PID), attr.ino, O_WRONLY)), EROFS);
  t.is(await errnoOf(fs.handlers.open(ctx(DEMO_PID), attr.ino, O_RDWR)), EROFS);
  t.deepEqual(decrypts, []);
});

test('corrupt ciphertext or unavailable backend: EIO for that secret only', async (t) => {
  const { fs, plaintexts, audit } = setup();
  plaintexts.set('db-password', { bytes: Buffer.alloc(0), error: { code: 'corrupt', message: 'bad packet' } });
  const bad = await fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'db-password');
  t.is(await errnoOf(fs.handlers.open(ctx(DEMO_PID), bad.attr.ino, O_RDONLY)), EIO);
  t.like(audit.at(-1), { decision: 'error', secret: 'db-password' });
  const good = await fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'empty');
  t.truthy((await fs.handlers.open(ctx(DEMO_PID), good.attr.ino, O_RDONLY)).content);
  plaintexts.set('db-password', {
    bytes: Buffer.alloc(0),
    error: { code: 'denied-by-backend', message: 'no delegation' },
  });
  t.is(await errnoOf(fs.handlers.open(ctx(DEMO_PID), bad.attr.ino, O_RDONLY)), EACCES);
});

test('sealed name and labels bind the ciphertext: a renamed or relabelled entry grants nothing', async (t) => {
  const h = setup();
  const { fs, plaintexts } = h;
  const { attr } = await fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'db-password');
  plaintexts.set('db-password', { bytes: Buffer.from('x'), sealedName: 'other-name' });
  t.is(await errnoOf(fs.handlers.open(ctx(DEMO_PID), attr.ino, O_RDONLY)), EACCES);
  // Sealed for [demo, billing]: the manifest says only [demo], the caller lacks billing.
  plaintexts.set('db-password', { bytes: Buffer.from('x'), sealedLabels: ['demo', 'billing'] });
  t.is(await errnoOf(fs.handlers.open(ctx(DEMO_PID), attr.ino, O_RDONLY)), EACCES);
  // Once pald has seen the sealed labels, the secret disappears from that caller's view.
  t.deepEqual(names(await fs.handlers.readdir(ctx(DEMO_PID), ROOT_INO)), ['.pal', 'empty']);
  // Re-sealed (new version) with labels the caller holds: allowed again.
  plaintexts.set('db-password', { bytes: Buffer.from('y'), sealedLabels: ['extra'] });
  const previous = h.manifest.view;
  h.manifest.view = manifestOf([entry('db-password', ['demo'], { version: 'v2' })], 2);
  fs.manifestChanged(h.manifest.view, previous);
  t.is(contentBytes((await fs.handlers.open(ctx(DEMO_PID), attr.ino, O_RDONLY)).content)?.toString(), 'y');
});

test('labels readable before decryption (Red October) are checked before the backend decrypts', async (t) => {
  const { fs, plaintexts, decrypts, audit } = setup();
  const { attr } = await fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'db-password');
  // The manifest grants [demo]; the ciphertext is sealed for [demo, billing]: refused, nothing spent.
  plaintexts.set('db-password', {
    bytes: Buffer.from('x'),
    clearHeader: { sealedName: 'db-password', sealedLabels: ['demo', 'billing'] },
  });
  t.is(await errnoOf(fs.handlers.open(ctx(DEMO_PID), attr.ino, O_RDONLY)), EACCES);
  t.deepEqual(decrypts, []);
  t.like(audit.at(-1), { decision: 'deny', secret: 'db-password' });
  t.regex(audit.at(-1)!.reason, /sealed labels: .*missing label billing/);
  plaintexts.set('db-password', {
    bytes: Buffer.from('x'),
    clearHeader: { sealedName: 'db-password', sealedLabels: ['demo', 'extra'] },
  });
  t.is(contentBytes((await fs.handlers.open(ctx(DEMO_PID), attr.ino, O_RDONLY)).content)?.toString(), 'x');
  t.deepEqual(decrypts, ['db-password']);
});

test('host callers: only uids in host.allow_uids', async (t) => {
  const { fs, allowUids } = setup();
  t.deepEqual(names(await fs.handlers.readdir(ctx(HOST_PID, 0, 0), ROOT_INO)), ['.pal']);
  allowUids.push(0);
  t.deepEqual(names(await fs.handlers.readdir(ctx(HOST_PID, 0, 0), ROOT_INO)), [
    '.pal',
    'billing-key',
    'db-password',
    'empty',
  ]);
});

test('.pal files describe the caller, list only its secrets, never carry plaintext', async (t) => {
  const { fs } = setup();
  const who = await fs.handlers.lookup(ctx(DEMO_PID), PAL_DIR_INO, 'whoami.json');
  const reply = await fs.handlers.open(ctx(DEMO_PID), who.attr.ino, O_RDONLY);
  const whoami = JSON.parse(contentBytes(reply.content)!.toString()) as Record<string, any>;
  t.is(who.attr.size, reply.content!.length);
  t.is(whoami.kind, 'container');
  t.is(whoami.container.name, 'app');
  t.deepEqual(whoami.labels, ['demo', 'extra']);
  t.is(whoami.trust.state, 'unverified');

  // Decrypt once so pald knows the size, then check secrets.json has metadata but no plaintext.
  const db = await fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'db-password');
  await fs.handlers.open(ctx(DEMO_PID), db.attr.ino, O_RDONLY);
  const sj = await fs.handlers.lookup(ctx(DEMO_PID), PAL_DIR_INO, 'secrets.json');
  const secrets = JSON.parse(
    contentBytes((await fs.handlers.open(ctx(DEMO_PID), sj.attr.ino, O_RDONLY)).content)!.toString(),
  ) as { secrets: { name: string; size: number; mode: string }[] };
  t.deepEqual(secrets.secrets.map((s) => s.name).sort(), ['db-password', 'empty']);
  t.like(
    secrets.secrets.find((s) => s.name === 'db-password'),
    { size: 14, mode: '0400' },
  );
  const plainSj = await fs.handlers.open(ctx(PLAIN_PID), sj.attr.ino, O_RDONLY);
  t.deepEqual(JSON.parse(contentBytes(plainSj.content)!.toString()).secrets, []);

  const unknown = await fs.handlers.open(ctx(999), who.attr.ino, O_RDONLY);
  const u = JSON.parse(contentBytes(unknown.content)!.toString()) as Record<string, unknown>;
  t.is(u.kind, 'unknown');
  t.regex(String(u.failure), /no such process/);
  for (const file of ['version', 'status']) {
    const l = await fs.handlers.lookup(ctx(DEMO_PID), PAL_DIR_INO, file);
    const text = contentBytes((await fs.handlers.open(ctx(DEMO_PID), l.attr.ino, O_RDONLY)).content)!.toString();
    t.false(text.includes('hunter2'));
    if (file === 'version') t.is(text, 'pal 0.1.0-test\n');
  }
});

test('manifest changes: kernel caches dropped for changed and removed names only; inodes never reused', async (t) => {
  const h = setup();
  const { fs } = h;
  const calls: string[] = [];
  fs.attachKernel({
    invalidateEntry: (p, n) => calls.push(`entry ${p} ${n}`),
    invalidateInode: (i) => calls.push(`inode ${i}`),
  });
  const db = await fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'db-password');
  const opened = await fs.handlers.open(ctx(DEMO_PID), db.attr.ino, O_RDONLY);
  await fs.handlers.release(ctx(DEMO_PID), db.attr.ino, opened.fh);
  t.is((await fs.handlers.getattr(ctx(DEMO_PID), db.attr.ino)).attr.size, 14);

  const previous = h.manifest.view;
  // Rotation of db-password (new version, new recorded size), removal of billing-key, empty untouched.
  h.manifest.view = manifestOf(
    [entry('db-password', ['demo'], { version: 'v2', size: 3 }), entry('empty', ['demo'], { size: 0 })],
    2,
  );
  fs.manifestChanged(h.manifest.view, previous);
  t.true(calls.includes(`entry 1 db-password`));
  t.true(calls.includes(`inode ${db.attr.ino}`));
  t.true(calls.includes('entry 1 billing-key'));
  t.false(calls.some((c) => c.includes('empty')));
  const oldHandle = (await fs.handlers.getattr(ctx(DEMO_PID), db.attr.ino)).attr;
  t.is(oldHandle.size, 3, 'size learnt from the old version is dropped');
  t.is(oldHandle.ino, db.attr.ino, "an earlier version's inode answers under its own number");

  // Revocation: the label is removed from the manifest; the next lookup and open deny.
  const before = h.manifest.view;
  h.manifest.view = manifestOf([entry('db-password', ['demo', 'billing'], { version: 'v2' })], 3);
  fs.manifestChanged(h.manifest.view, before);
  t.is(await errnoOf(fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'db-password')), ENOENT);
  t.is(await errnoOf(fs.handlers.open(ctx(DEMO_PID), db.attr.ino, O_RDONLY)), EACCES);

  // Each version is an inode of its own (src/fs/inodes.ts); a version that leaves and comes back
  // keeps its number.
  h.manifest.view = manifestOf([entry('db-password', ['demo'], { version: 'v3' })], 4);
  const v3 = (await fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'db-password')).attr.ino;
  t.not(v3, db.attr.ino);
  h.manifest.view = manifestOf([entry('db-password', ['demo'])], 5);
  t.is((await fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'db-password')).attr.ino, db.attr.ino);
});

test('the last release of a secret drops its pages from the kernel (MAP_PRIVATE readers)', async (t) => {
  const { fs } = setup();
  const calls: string[] = [];
  fs.attachKernel({ invalidateEntry: () => {}, invalidateInode: (i) => calls.push(`inode ${i}`) });
  const { attr } = await fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'db-password');
  const a = await fs.handlers.open(ctx(DEMO_PID), attr.ino, O_RDONLY);
  const b = await fs.handlers.open(ctx(DEMO_PID), attr.ino, O_RDONLY);
  await fs.handlers.release(ctx(DEMO_PID), attr.ino, a.fh);
  t.deepEqual(calls, [], 'another handle is still open');
  await fs.handlers.release(ctx(DEMO_PID), attr.ino, b.fh);
  t.deepEqual(calls, [`inode ${attr.ino}`]);
  await fs.handlers.release(ctx(DEMO_PID), attr.ino, b.fh);
  t.deepEqual(calls, [`inode ${attr.ino}`], 'a repeated release changes nothing');
});

test('a caller evaluated a moment ago is reused for its next request; failures and other uids are not', async (t) => {
  const h = setup();
  const { fs } = h;
  let resolves = 0;
  const inner = h.deps.identity.resolve.bind(h.deps.identity);
  (h.deps.identity as { resolve: typeof inner }).resolve = async (c) => {
    resolves++;
    return inner(c);
  };
  const { attr } = await fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'db-password');
  await fs.handlers.open(ctx(DEMO_PID), attr.ino, O_RDONLY);
  t.is(resolves, 1, 'lookup then open of one open(2): one attribution');
  await fs.handlers.lookup(ctx(DEMO_PID, 0, 0), ROOT_INO, 'db-password');
  t.is(resolves, 2, 'another uid is another caller');
  await errnoOf(fs.handlers.lookup(ctx(999), ROOT_INO, 'db-password'));
  await errnoOf(fs.handlers.lookup(ctx(999), ROOT_INO, 'db-password'));
  t.is(resolves, 4, 'failures are evaluated afresh');
  fs.forgetCallers();
  await fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'db-password');
  t.is(resolves, 5, 'forgetCallers drops them');
});

test('a pid reused inside the reuse window is a new caller, judged on its own', async (t) => {
  const h = setup();
  const { fs } = h;
  await fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'db-password');
  // The app process exits and its pid goes to a process of another container, at once.
  h.identities.set(DEMO_PID, container(DEMO_PID, IMAGE_PLAIN, 'other'));
  h.startTimes.set(DEMO_PID, '2');
  t.is(await errnoOf(fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'db-password')), ENOENT);
  t.deepEqual(names(await fs.handlers.readdir(ctx(DEMO_PID), ROOT_INO)), ['.pal']);
});
