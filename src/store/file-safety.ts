// File safety (SPEC §3): pald refuses a config file, manifest, ciphertext, key file, trust store or
// state file that someone other than root (or pald's own uid) could change — owned by another
// user, writable by group or others, or in a directory (any ancestor up to /) that is — and a
// private key that group or others can read. Whoever can change these files decides what pald
// decrypts and for whom, so "anyone on the host who can write there" would be root by another name.
//
// Once a file and every directory above it pass, only root or pald's uid can change or swap it,
// so checking by path and then opening by path has no race an unprivileged user can win.
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readSync,
  realpathSync,
  statSync,
  type Stats,
} from 'node:fs';
import { lstat, open, realpath, stat } from 'node:fs/promises';
import path from 'node:path';

export type SafeFileKind =
  | 'config'
  | 'manifest'
  | 'ciphertext'
  | 'private key'
  | 'key directory'
  | 'passphrase'
  | 'trust store'
  | 'state'
  | 'state directory';

/** Kinds that name a directory rather than a file. */
const DIRECTORY_KINDS: ReadonlySet<SafeFileKind> = new Set(['key directory', 'state directory']);

export interface FileSafetyOptions {
  readonly kind: SafeFileKind;
  /** Also refuse a file group or others can read (private keys, passphrases). Default: kind is 'private key' or 'passphrase'. */
  readonly private?: boolean;
  /** Refuse a symlink as the last component (where a link is not expected). Default false: the link is followed and its target checked. */
  readonly noFollow?: boolean;
  /** Owners accepted besides root; default pald's effective uid. */
  readonly trustedUids?: readonly number[];
  /**
   * Directories already found safe in this pass (e.g. one manifest load checking many
   * ciphertexts in one directory): skipped, and the ones found safe now are added.
   */
  readonly safeDirs?: Set<string>;
}

/** A file refused by the File safety rules; the message names the file, its owner and mode. */
export class FileSafetyError extends Error {
  override readonly name = 'FileSafetyError';
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message);
  }
}

const GROUP_OTHER_WRITE = 0o022;
const GROUP_OTHER_READ = 0o044;
const S_ISVTX = 0o1000; // sticky bit (not in node's fs.constants)

function octal(mode: number): string {
  return '0' + (mode & 0o7777).toString(8).padStart(3, '0');
}

function trusted(opts: FileSafetyOptions): ReadonlySet<number> {
  const euid = typeof process.geteuid === 'function' ? process.geteuid() : 0;
  return new Set([0, ...(opts.trustedUids ?? [euid])]);
}

function isPrivate(opts: FileSafetyOptions): boolean {
  return opts.private ?? (opts.kind === 'private key' || opts.kind === 'passphrase');
}

/** The problem with the file itself (already stat'ed, link followed), or undefined. */
function fileProblem(
  file: string,
  st: Stats,
  opts: FileSafetyOptions,
  owners: ReadonlySet<number>,
): string | undefined {
  const what = `${opts.kind} ${file}`;
  const facts = `owner uid ${st.uid}, mode ${octal(st.mode)}`;
  const wantDir = DIRECTORY_KINDS.has(opts.kind);
  if (wantDir ? !st.isDirectory() : !st.isFile())
    return `${what}: not a regular ${wantDir ? 'directory' : 'file'} (${facts})`;
  if (!owners.has(st.uid)) return `${what}: owned by uid ${st.uid} (mode ${octal(st.mode)}), not by root or pald's uid`;
  if (st.mode & GROUP_OTHER_WRITE)
    return `${what}: mode ${octal(st.mode)} is writable by group or others (owner uid ${st.uid})`;
  if (isPrivate(opts) && st.mode & GROUP_OTHER_READ)
    return `${what}: mode ${octal(st.mode)} is readable by group or others (owner uid ${st.uid}); a ${opts.kind} must be 0600`;
  return undefined;
}

/**
 * The problem with one directory above the file, or undefined. `immediate` is the file's own
 * directory. A root-owned sticky directory writable by everyone (/tmp) is fine further up: the
 * sticky bit stops others from renaming or deleting entries they do not own, so our own
 * directory inside it cannot be swapped. It is not fine as the file's immediate parent: there
 * anyone may *create* names, so an attacker can plant a file pald will later look for (the
 * ciphertext a manifest edit is about to name, a key in a keys dir, the temp name of an atomic
 * write, a state file not yet written), and the sticky bit only protects entries that exist.
 * (A checked *directory* such as the keys dir may sit in one: nobody else can replace it, and what
 * matters is who can create names inside it, which its own mode decides.)
 */
function dirProblem(
  file: string,
  dir: string,
  st: Stats,
  opts: FileSafetyOptions,
  owners: ReadonlySet<number>,
  immediate: boolean,
): string | undefined {
  const what = `${opts.kind} ${file}`;
  if (!st.isDirectory()) return `${what}: ${dir} is not a directory`;
  if (!owners.has(st.uid))
    return `${what}: directory ${dir} is owned by uid ${st.uid} (mode ${octal(st.mode)}), not by root or pald's uid`;
  if ((st.mode & GROUP_OTHER_WRITE) === 0) return undefined;
  const stickyRootOwned = (st.mode & S_ISVTX) !== 0 && st.uid === 0;
  if (stickyRootOwned && !immediate) return undefined;
  return `${what}: directory ${dir} (owner uid ${st.uid}, mode ${octal(st.mode)}) is writable by group or others`;
}

/** Every directory from `dir` up to `/`, nearest first. */
function ancestors(dir: string): string[] {
  const out: string[] = [];
  let d = dir;
  for (;;) {
    out.push(d);
    const up = path.dirname(d);
    if (up === d) return out;
    d = up;
  }
}

function errnoMessage(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return 'not found';
  if (e.code === 'ELOOP') return 'is a symlink (not allowed here)';
  return e.message;
}

/** One file-system question of the File safety walk, answered sync or async by its driver. */
type FsQuestion = { readonly op: 'lstat' | 'stat' | 'realpath'; readonly path: string };
type FsAnswer = Stats | string;

/**
 * The File safety rules, once for both drivers: a generator that yields each file-system question
 * and receives the answer (or the error, thrown back into it), so the sync and async checks are one
 * walk in one order.
 */
function* safetyWalk(file: string, opts: FileSafetyOptions): Generator<FsQuestion, string | undefined, FsAnswer> {
  const abs = path.resolve(file);
  const owners = trusted(opts);
  let st: Stats;
  try {
    const l = (yield { op: 'lstat', path: abs }) as Stats;
    if (l.isSymbolicLink() && opts.noFollow) return `${opts.kind} ${abs}: is a symlink (not allowed here)`;
    st = l.isSymbolicLink() ? ((yield { op: 'stat', path: abs }) as Stats) : l;
  } catch (err) {
    return `${opts.kind} ${abs}: ${errnoMessage(err)}`;
  }
  const p = fileProblem(abs, st, opts, owners);
  if (p) return p;
  let real: string;
  try {
    real = (yield { op: 'realpath', path: abs }) as string;
  } catch (err) {
    return `${opts.kind} ${abs}: ${errnoMessage(err)}`;
  }
  for (const chain of chainsOf(abs, real)) {
    for (const [i, dir] of chain.entries()) {
      const immediate = i === 0 && !DIRECTORY_KINDS.has(opts.kind);
      const key = `${immediate ? 'parent' : 'ancestor'}:${dir}`;
      if (opts.safeDirs?.has(key)) continue;
      let ds: Stats;
      try {
        ds = (yield { op: 'stat', path: dir }) as Stats;
      } catch (err) {
        return `${opts.kind} ${abs}: directory ${dir}: ${errnoMessage(err)}`;
      }
      const dp = dirProblem(abs, dir, ds, opts, owners, immediate);
      if (dp) return dp;
      opts.safeDirs?.add(key);
    }
  }
  return undefined;
}

const asyncFs: Record<FsQuestion['op'], (p: string) => Promise<FsAnswer>> = { lstat, stat, realpath };
const syncFs: Record<FsQuestion['op'], (p: string) => FsAnswer> = {
  lstat: lstatSync,
  stat: statSync,
  realpath: realpathSync.native,
};

/**
 * Why `file` must not be used under the File safety rules, or undefined when it is safe. Checks
 * the file (its target when it is a symlink, unless noFollow), every directory up to / on the
 * path as given and on the resolved path (a writable directory holding a symlink lets its writer
 * redirect the link).
 */
export async function fileSafetyProblem(file: string, opts: FileSafetyOptions): Promise<string | undefined> {
  const walk = safetyWalk(file, opts);
  for (let step = walk.next(); ;) {
    if (step.done) return step.value;
    const { op, path: p } = step.value;
    step = await asyncFs[op](p).then(
      (answer) => walk.next(answer),
      (err: unknown) => walk.throw(err),
    );
  }
}

/** Synchronous fileSafetyProblem (for code that cannot await). */
export function fileSafetyProblemSync(file: string, opts: FileSafetyOptions): string | undefined {
  const walk = safetyWalk(file, opts);
  for (let step = walk.next(); ;) {
    if (step.done) return step.value;
    let answer: FsAnswer;
    try {
      answer = syncFs[step.value.op](step.value.path);
    } catch (err) {
      step = walk.throw(err);
      continue;
    }
    step = walk.next(answer);
  }
}

/** The directory chains to check: the path as given and, when links were followed, the resolved one. */
function chainsOf(abs: string, real: string): string[][] {
  const given = ancestors(path.dirname(abs));
  if (real === abs) return [given];
  return [given, ancestors(path.dirname(real))];
}

/**
 * Reads a regular file without ever blocking on a FIFO or device and without following a
 * symlink as its last component: lstat, open O_NONBLOCK|O_NOFOLLOW, then fstat the descriptor and
 * check it is the very regular file lstat saw (not swapped in between). Refuses files over maxBytes.
 */
export async function readRegularFile(file: string, maxBytes: number): Promise<{ bytes: Buffer; stats: Stats }> {
  const before = await lstat(file);
  assertRegularWithin(before, maxBytes);
  const fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    const st = await fh.stat();
    assertOpenedAsSeen(before, st, maxBytes);
    // Read at most maxBytes + 1: a file growing after fstat cannot make us read without bound.
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n === buf.length) break;
    }
    if (n > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
    return { bytes: buf.subarray(0, n), stats: st };
  } finally {
    await fh.close();
  }
}

/** readRegularFile for start-up code that must stay synchronous (trust providers load keys when made). */
export function readRegularFileSync(file: string, maxBytes: number): { bytes: Buffer; stats: Stats } {
  const before = lstatSync(file);
  assertRegularWithin(before, maxBytes);
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    const st = fstatSync(fd);
    assertOpenedAsSeen(before, st, maxBytes);
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      const r = readSync(fd, buf, n, buf.length - n, n);
      if (r === 0) break;
      n += r;
      if (n === buf.length) break;
    }
    if (n > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
    return { bytes: buf.subarray(0, n), stats: st };
  } finally {
    closeSync(fd);
  }
}

/** The checks both readers make: a regular file, no bigger than allowed, and the very file lstat saw. */
function assertOpenedAsSeen(before: Stats, opened: Stats, maxBytes: number): void {
  if (!opened.isFile() || opened.dev !== before.dev || opened.ino !== before.ino)
    throw new Error('file changed while being opened');
  if (opened.size > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
}

function assertRegularWithin(before: Stats, maxBytes: number): void {
  if (!before.isFile()) throw new Error(`not a regular file (${kindOf(before)})`);
  if (before.size > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
}

function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symlink';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isDirectory()) return 'a directory';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a file';
}
