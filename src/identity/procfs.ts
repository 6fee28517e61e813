// Small, synchronous /proc readers. procfs reads never wait on a disk, and a synchronous
// open+read+close costs a few µs where an async read would queue on libuv's thread pool:
// these run on every FUSE request, so they stay synchronous and allocation-light.

import { closeSync, openSync, readSync, readlinkSync } from 'node:fs';
import { errorMessage } from '../shared/error-message.js';

/** The kernel's fixed inode number for the initial pid namespace (PROC_PID_INIT_INO). */
const INITIAL_PID_NS = 'pid:[4026531836]';

const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

export class ProcError extends Error {
  constructor(
    message: string,
    /** errno code of the failed read (ENOENT: the process is gone). */
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'ProcError';
  }
}

/** Read a whole small /proc file (up to 64 KiB) as latin1 text (comm may hold any byte). */
export function readProcFile(procRoot: string, pid: number, file: string): string {
  const path = `${procRoot}/${pid}/${file}`;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw procError(path, err);
  }
  try {
    let length = 0;
    for (;;) {
      const n = readSync(fd, READ_BUFFER, length, READ_BUFFER.length - length, null);
      if (n === 0) break;
      length += n;
      if (length === READ_BUFFER.length)
        throw new ProcError(`${path} is larger than ${READ_BUFFER.length} bytes`, 'EFBIG');
    }
    return READ_BUFFER.toString('latin1', 0, length);
  } catch (err) {
    if (err instanceof ProcError) throw err;
    throw procError(path, err);
  } finally {
    closeSync(fd);
  }
}

export interface ProcStat {
  /** Field 3: R, S, D, Z (zombie), X (dead), … */
  readonly state: string;
  /** Field 22: start time in clock ticks since boot, kept as the decimal string the kernel wrote. */
  readonly startTime: string;
}

/**
 * Parse /proc/<pid>/stat. Field 2 (comm) is in parentheses and may itself contain spaces,
 * parentheses and newlines, so fields are counted from the *last* ')' in the line. Runs on every
 * cached request (the reuse guard): it walks the text with indexOf instead of splitting it into
 * 50 strings, with the same answer as `text.slice(close + 1).trim().split(' ')` would give.
 */
export function parseStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  const open = text.indexOf('(');
  if (close < 0 || open < 0 || open > close) return undefined;
  // The trimmed rest of the line, [from, to).
  let from = close + 1;
  let to = text.length;
  while (from < to && isTrimmed(text.charCodeAt(from))) from++;
  while (to > from && isTrimmed(text.charCodeAt(to - 1))) to--;
  // Field 3 (state) is the first space-separated field, field 22 (start time) the 20th.
  const stateEnd = fieldEnd(text, from, to);
  if (stateEnd !== from + 1 || !isLetter(text.charCodeAt(from))) return undefined;
  let start = stateEnd + 1;
  for (let field = 4; field < 22; field++) {
    if (start > to) return undefined;
    start = fieldEnd(text, start, to) + 1;
  }
  if (start > to) return undefined;
  const end = fieldEnd(text, start, to);
  if (end === start || end - start > 20) return undefined;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  return { state: text[from]!, startTime: text.slice(start, end) };
}

/** Where the field starting at `from` ends: the next space, or `to`. */
function fieldEnd(text: string, from: number, to: number): number {
  const space = text.indexOf(' ', from);
  return space < 0 || space > to ? to : space;
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** What String.prototype.trim removes, within latin1 (the text is read as latin1). */
function isTrimmed(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0;
}

export function readStat(procRoot: string, pid: number): ProcStat {
  const text = readProcFile(procRoot, pid, 'stat');
  const stat = parseStat(text);
  if (stat === undefined) throw new ProcError(`${procRoot}/${pid}/stat is not parsable`, 'EINVAL');
  return stat;
}

/**
 * Open /proc/<pid>/stat and keep it: the open file pins the process (its struct pid), not the
 * number. Once that process is gone, reads through this fd fail with ESRCH even if the number
 * has been handed to a new process — the procfs equivalent of a pidfd, without a native helper.
 */
export function openStat(procRoot: string, pid: number): number {
  const path = `${procRoot}/${pid}/stat`;
  try {
    return openSync(path, 'r');
  } catch (err) {
    throw procError(path, err);
  }
}

/** Re-read a held stat fd (pread at 0). Throws ProcError (code ESRCH) once its process is gone. */
export function readStatFd(fd: number): ProcStat {
  let length: number;
  try {
    length = readSync(fd, READ_BUFFER, 0, 4096, 0);
  } catch (err) {
    throw procError(`stat fd ${fd}`, err);
  }
  const stat = parseStat(READ_BUFFER.toString('latin1', 0, length));
  if (stat === undefined) throw new ProcError(`stat fd ${fd} is not parsable`, 'EINVAL');
  return stat;
}

export function closeFd(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed: nothing to release
  }
}

export interface ProcStatusIds {
  readonly tgid: number;
  /** Real uid/gid (first of the four values). */
  readonly uid: number;
  readonly gid: number;
}

export function parseStatusIds(text: string): ProcStatusIds | undefined {
  const tgid = statusNumber(text, 'Tgid');
  const uid = statusNumber(text, 'Uid');
  const gid = statusNumber(text, 'Gid');
  if (tgid === undefined || uid === undefined || gid === undefined || tgid <= 0) return undefined;
  return { tgid, uid, gid };
}

export function readStatusIds(procRoot: string, pid: number): ProcStatusIds {
  const ids = parseStatusIds(readProcFile(procRoot, pid, 'status'));
  if (ids === undefined) throw new ProcError(`${procRoot}/${pid}/status has no valid Tgid/Uid/Gid`, 'EINVAL');
  return ids;
}

/**
 * The filesystem uid and gid (the fourth of each line's four values): what the kernel names as the
 * caller of a FUSE request this process makes.
 */
export function parseStatusFsIds(text: string): { readonly uid: number; readonly gid: number } | undefined {
  const uid = statusNumber(text, 'Uid', 3);
  const gid = statusNumber(text, 'Gid', 3);
  const isId = (v: number | undefined): v is number => v !== undefined && v <= 0xffffffff;
  return isId(uid) && isId(gid) ? { uid, gid } : undefined;
}

/** The `index`th number of a status line (`Uid:` has four: real, effective, saved, filesystem). */
function statusNumber(text: string, key: string, index = 0): number | undefined {
  const match = new RegExp(`^${key}:\\s+(?:\\d{1,10}\\s+){${index}}(\\d{1,10})\\b`, 'm').exec(text);
  if (match?.[1] === undefined) return undefined;
  const value = Number(match[1]);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** The namespaces that make a caller "host": pald's own pid and mount namespaces (SPEC §4). */
export interface HostNamespaces {
  /** readlink of ns/pid, e.g. "pid:[4026531836]". */
  readonly pid: string;
  /** readlink of ns/mnt, e.g. "mnt:[4026531841]". */
  readonly mnt: string;
}

/**
 * The pid and mount namespaces of `${procRoot}/${pid}` ("self": pald). Read by pid number: a
 * caller's are read between pinning its stat fd and re-checking it, like its cgroups.
 */
export function readNamespaces(procRoot: string, pid: number | 'self'): HostNamespaces {
  return { pid: readNamespaceLink(procRoot, pid, 'pid'), mnt: readNamespaceLink(procRoot, pid, 'mnt') };
}

function readNamespaceLink(procRoot: string, pid: number | 'self', ns: 'pid' | 'mnt'): string {
  const path = `${procRoot}/${pid}/ns/${ns}`;
  let link: string;
  try {
    link = readlinkSync(path);
  } catch (err) {
    throw procError(path, err);
  }
  if (!new RegExp(`^${ns}:\\[\\d{1,20}\\]$`).test(link))
    throw new ProcError(`${path} reads ${JSON.stringify(link.slice(0, 64))}, not ${ns}:[inode]`, 'EINVAL');
  return link;
}

export interface PidNamespaceCheck {
  /** false when pald is certainly not in the host pid namespace; undefined when it can't tell. */
  readonly hostPidNamespace: boolean | undefined;
  readonly detail: string;
}

/**
 * FUSE reports callers' pids in pald's own pid namespace; a caller outside it shows up as
 * pid 0, and /proc/<pid> would name the wrong process. pald must run in the host pid namespace.
 */
export function checkPidNamespace(procRoot: string): PidNamespaceCheck {
  let self: string;
  try {
    self = readlinkSync(`${procRoot}/self/ns/pid`);
  } catch (err) {
    return { hostPidNamespace: undefined, detail: `cannot read ${procRoot}/self/ns/pid: ${errorMessage(err)}` };
  }
  let init: string | undefined;
  try {
    init = readlinkSync(`${procRoot}/1/ns/pid`);
  } catch {
    // Often unreadable (ptrace restrictions); the initial-namespace inode below still decides.
    init = undefined;
  }
  if (init !== undefined && init !== self) {
    return { hostPidNamespace: false, detail: `pald's pid namespace ${self} differs from pid 1's ${init}` };
  }
  let nested = false;
  try {
    const nspid = /^NSpid:\s+(.*)$/m.exec(readProcFile(procRoot, process.pid, 'status'))?.[1];
    nested = nspid !== undefined && nspid.trim().split(/\s+/).length > 1;
  } catch {
    nested = false;
  }
  if (nested) return { hostPidNamespace: false, detail: `pald runs in a nested pid namespace (${self})` };
  if (self === INITIAL_PID_NS)
    return { hostPidNamespace: true, detail: `pald runs in the initial pid namespace ${self}` };
  return {
    hostPidNamespace: false,
    detail: `pald's pid namespace ${self} is not the initial one ${INITIAL_PID_NS}`,
  };
}

function procError(path: string, err: unknown): ProcError {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
  return new ProcError(`cannot read ${path}: ${errorMessage(err)}`, code);
}
