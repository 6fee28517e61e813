// A lock shared by every process on the machine (ava runs test files in separate worker processes),
// kept in a directory under os.tmpdir(). The directory only ever appears with its owner file already
// inside (made in a private staging directory, then renamed into place, which is atomic and fails if
// the lock exists), so a waiter never sees a lock without an owner. The owner is a pid and its start
// time: a lock whose owner is gone (kill(pid, 0) → ESRCH, or the pid now names another process) is
// stale and is broken, again by an atomic rename, so that of two breakers only one wins.
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

import { startTime, startTimeOf } from './proc-start.js';
import { waitFor } from './wait.js';

export const DEFAULT_LOCK_DIR = join(tmpdir(), 'pal-test-ns-last-pid.lock');

export interface PidLockOptions {
  /** The lock directory; default DEFAULT_LOCK_DIR. */
  readonly dir?: string;
  /** How long a waiter waits for the holder; default 60 s. */
  readonly timeoutMs?: number;
  /** The waiter's poll interval; default 5 ms. */
  readonly intervalMs?: number;
}

interface Owner {
  readonly pid: number;
  readonly startTime: string;
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

function ownerOf(dir: string): Owner | undefined {
  try {
    const [pid, start] = readFileSync(join(dir, 'owner'), 'utf8').trim().split(' ');
    return { pid: Number(pid), startTime: start ?? '' };
  } catch (e) {
    if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return undefined; // released meanwhile
    throw e;
  }
}

async function ownerAlive(owner: Owner): Promise<boolean> {
  if (!Number.isSafeInteger(owner.pid) || owner.pid <= 0) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    if (errno(e) === 'ESRCH') return false;
    if (errno(e) !== 'EPERM') throw e;
  }
  // The tests using this lock force pid reuse, so a dead owner's pid may well name a newer process.
  return (await startTime(owner.pid)) === owner.startTime;
}

/** A fresh private directory next to the lock (same filesystem, so rename is atomic). */
function sideDir(dir: string, kind: string): string {
  return mkdtempSync(join(dirname(dir), `${basename(dir)}.${kind}-`));
}

/** Creates the lock owned by this process; false if it exists already. */
function tryCreate(dir: string): boolean {
  const staging = sideDir(dir, 'staging');
  writeFileSync(join(staging, 'owner'), `${process.pid} ${startTimeOf(process.pid)}\n`);
  try {
    renameSync(staging, dir); // fails on an existing lock: it is never empty
    return true;
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    if (errno(e) === 'ENOTEMPTY' || errno(e) === 'EEXIST') return false;
    throw e;
  }
}

/** Moves the lock `dir` away if it is still the one owned by `owner`; the lock is free then. */
function breakLock(dir: string, owner: Owner): void {
  const grave = join(sideDir(dir, 'grave'), 'lock');
  try {
    renameSync(dir, grave);
  } catch (e) {
    rmSync(dirname(grave), { recursive: true, force: true });
    if (errno(e) === 'ENOENT') return; // someone else broke or released it
    throw e;
  }
  const moved = ownerOf(grave);
  if (moved !== undefined && (moved.pid !== owner.pid || moved.startTime !== owner.startTime)) {
    // Between reading the stale owner and the rename, the lock was broken and taken by a live
    // holder: give it back. Should a third process have taken the free lock in that instant,
    // two would hold it, so fail loudly rather than let them overlap silently.
    try {
      renameSync(grave, dir);
    } catch (e) {
      throw new Error(`broke a live ${basename(dir)} while breaking a stale one: ${String(e)}`);
    }
  }
  rmSync(dirname(grave), { recursive: true, force: true });
}

/** Takes the lock (breaking a stale one), waiting for a live holder up to the deadline. */
export async function acquirePidLock(options: PidLockOptions = {}): Promise<() => void> {
  const { dir = DEFAULT_LOCK_DIR, timeoutMs = 60_000, intervalMs = 5 } = options;
  await waitFor(
    `the lock ${dir}`,
    async () => {
      if (tryCreate(dir)) return true;
      const owner = ownerOf(dir);
      if (owner !== undefined && !(await ownerAlive(owner))) breakLock(dir, owner);
      return tryCreate(dir);
    },
    { timeoutMs, intervalMs },
  );
  return () => releasePidLock(dir);
}

function releasePidLock(dir: string): void {
  const owner = ownerOf(dir);
  if (owner?.pid !== process.pid) throw new Error(`${dir} is not held by this process (owner ${owner?.pid})`);
  // Moved away before removal: removing in place would leave an empty directory for a moment,
  // which a rename would replace (a new lock) and the removal then delete.
  const grave = sideDir(dir, 'grave');
  renameSync(dir, join(grave, 'lock'));
  rmSync(grave, { recursive: true, force: true });
}

/** Runs `fn` holding the lock; released afterwards, even when `fn` throws. */
export async function withPidLock<T>(fn: () => Promise<T>, options: PidLockOptions = {}): Promise<T> {
  const release = await acquirePidLock(options);
  try {
    return await fn();
  } finally {
    release();
  }
}
