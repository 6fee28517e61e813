import test from 'ava';
import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  fileSafetyProblem,
  fileSafetyProblemSync,
  readRegularFile,
  type FileSafetyOptions,
} from '../../../src/store/index.js';

const dirs: string[] = [];
test.after.always(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A fresh 0700 dir (mkdtemp) under /tmp, which is root-owned and sticky: an acceptable ancestor. */
async function fresh(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pal-safety-'));
  dirs.push(dir);
  return dir;
}

async function file(dir: string, name: string, mode: number): Promise<string> {
  const f = path.join(dir, name);
  await writeFile(f, 'x');
  await chmod(f, mode);
  return f;
}

/** Both variants must agree; returns the async one's answer. */
async function problem(f: string, opts: FileSafetyOptions): Promise<string | undefined> {
  const a = await fileSafetyProblem(f, opts);
  const b = fileSafetyProblemSync(f, opts);
  if (a !== b) throw new Error(`async and sync disagree: ${a} / ${b}`);
  return a;
}

test('a root-owned 0644 file in a 0700 dir under /tmp is safe', async (t) => {
  const dir = await fresh();
  t.is(await problem(await file(dir, 'secrets.yaml', 0o644), { kind: 'manifest' }), undefined);
  t.is(await problem(await file(dir, 'host.key', 0o600), { kind: 'private key' }), undefined);
});

test('a 0666 file is refused, naming file, mode and owner', async (t) => {
  const dir = await fresh();
  const f = await file(dir, 'secrets.yaml', 0o666);
  t.is(await problem(f, { kind: 'manifest' }), `manifest ${f}: mode 0666 is writable by group or others (owner uid 0)`);
  const g = await file(dir, 'c.pgp', 0o664);
  t.regex((await problem(g, { kind: 'ciphertext' }))!, /mode 0664 is writable by group or others/);
});

test('a private key readable by group or others is refused; a public file may be', async (t) => {
  const dir = await fresh();
  const k = await file(dir, 'host.key', 0o644);
  t.regex(
    (await problem(k, { kind: 'private key' }))!,
    /host\.key: mode 0644 is readable by group or others.*must be 0600/,
  );
  t.regex((await problem(await file(dir, 'host2.key', 0o640), { kind: 'private key' }))!, /mode 0640 is readable/);
  t.is(await problem(k, { kind: 'config' }), undefined);
});

test('a file owned by another user is refused', async (t) => {
  const dir = await fresh();
  const f = await file(dir, 'pald.yaml', 0o644);
  await chown(f, 4242, 4242);
  t.is(await problem(f, { kind: 'config' }), `config ${f}: owned by uid 4242 (mode 0644), not by root or pald's uid`);
});

test('a file in a directory owned by another user, or writable by group/others, is refused (any ancestor)', async (t) => {
  const top = await fresh();
  const sub = path.join(top, 'etc', 'pal');
  await mkdir(sub, { recursive: true, mode: 0o755 });
  await chmod(path.join(top, 'etc'), 0o755);
  const f = await file(sub, 'secrets.yaml', 0o644);
  t.is(await problem(f, { kind: 'manifest' }), undefined);

  await chmod(sub, 0o775);
  t.is(
    await problem(f, { kind: 'manifest' }),
    `manifest ${f}: directory ${sub} (owner uid 0, mode 0775) is writable by group or others`,
  );
  await chmod(sub, 0o755);

  await chmod(path.join(top, 'etc'), 0o777);
  t.regex(
    (await problem(f, { kind: 'manifest' }))!,
    new RegExp(`directory ${path.join(top, 'etc')} \\(owner uid 0, mode 0777\\) is writable`),
  );
  await chmod(path.join(top, 'etc'), 0o755);

  await chown(top, 4242, 0);
  t.regex((await problem(f, { kind: 'manifest' }))!, new RegExp(`directory ${top} is owned by uid 4242`));
  await chown(top, 0, 0);
});

test('a root-owned sticky world-writable dir is fine as an ancestor but not as the immediate parent', async (t) => {
  const top = await fresh();
  const sticky = path.join(top, 'tmp');
  await mkdir(sticky);
  await chmod(sticky, 0o1777);
  const inside = path.join(sticky, 'pal');
  await mkdir(inside, { mode: 0o700 });
  t.is(await problem(await file(inside, 'secrets.yaml', 0o644), { kind: 'manifest' }), undefined);
  const direct = await file(sticky, 'secrets.yaml', 0o644);
  t.regex(
    (await problem(direct, { kind: 'manifest' }))!,
    /directory .*\/tmp \(owner uid 0, mode 01777\) is writable by group or others/,
  );
  // Sticky but owned by someone else: that user can delete our directory inside it.
  await chown(sticky, 4242, 0);
  t.regex((await problem(path.join(inside, 'secrets.yaml'), { kind: 'manifest' }))!, /owned by uid 4242/);
});

test('a symlink: its target and the directories on both paths are checked; noFollow refuses it', async (t) => {
  const safe = await fresh();
  const target = await file(safe, 'real.yaml', 0o644);
  const linkDir = await fresh();
  const link = path.join(linkDir, 'secrets.yaml');
  await symlink(target, link);
  t.is(await problem(link, { kind: 'manifest' }), undefined);
  t.regex((await problem(link, { kind: 'manifest', noFollow: true }))!, /is a symlink/);
  // A writable directory holding the link lets its writer redirect it.
  await chmod(linkDir, 0o777);
  t.regex((await problem(link, { kind: 'manifest' }))!, /directory .* is writable by group or others/);
  await chmod(linkDir, 0o700);
  await chmod(target, 0o666);
  t.regex((await problem(link, { kind: 'manifest' }))!, /mode 0666 is writable/);
});

test('missing, FIFO and directory are problems, not crashes or hangs', async (t) => {
  const dir = await fresh();
  t.regex((await problem(path.join(dir, 'nope'), { kind: 'config' }))!, /not found/);
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', ['-m', '0600', fifo]);
  t.regex((await problem(fifo, { kind: 'ciphertext' }))!, /not a regular file/);
  t.regex((await problem(dir, { kind: 'config' }))!, /not a regular file/);
  t.is(await problem(dir, { kind: 'key directory' }), undefined);
});

test('readRegularFile: refuses a FIFO, a symlink and an oversized file without blocking', async (t) => {
  const dir = await fresh();
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', ['-m', '0600', fifo]);
  await t.throwsAsync(readRegularFile(fifo, 100), { message: /not a regular file \(a FIFO\)/ });
  const f = await file(dir, 'f', 0o600);
  const link = path.join(dir, 'link');
  await symlink(f, link);
  await t.throwsAsync(readRegularFile(link, 100), { message: /not a regular file \(a symlink\)/ });
  await writeFile(f, Buffer.alloc(101));
  await t.throwsAsync(readRegularFile(f, 100), { message: /larger than 100 bytes/ });
  t.is((await readRegularFile(f, 101)).bytes.length, 101);
});
