// Shared pieces of the native addon's integration tests: a small in-memory filesystem whose
// handlers record every call, temp mountpoints cleaned up even on failure, and child processes
// (the callers) whose pid/uid/gid the tests compare with what the handlers saw.
import { spawn, type SpawnOptions } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants } from 'node:fs';

import type { ExecutionContext } from 'ava';

import {
  allocSecureBuffer,
  Errno,
  FuseError,
  mount,
  type CallerContext,
  type DirEntry,
  type FileAttr,
  type FuseHandlers,
  type FuseMount,
  type NativeMountOptions,
  type SecureBuffer,
} from '../../src/native/index.js';

export const ROOT = 1;

export interface TestFile {
  readonly name: string;
  readonly ino: number;
  readonly content: Buffer;
  /**
   * 'buffer': open hands a new SecureBuffer to the addon (native reads); 'shared': every open
   * hands a share() of one SecureBuffer the fs holds (as pald's cache does); 'plain': open hands
   * a Uint8Array (ordinary memory); 'js': reads come to JS; 'dead': open returns a buffer that
   * was already let go of (a handler bug the addon refuses).
   */
  readonly serve: 'js' | 'buffer' | 'shared' | 'plain' | 'dead';
}

export interface Call {
  readonly op: string;
  readonly ctx: CallerContext;
  readonly ino: number;
  readonly name?: string | undefined;
  readonly fh?: number | undefined;
}

/** A flat directory of files; every handler call is recorded in `calls`. */
export class TestFs {
  readonly calls: Call[] = [];
  readonly files = new Map<string, TestFile>();
  readonly byIno = new Map<number, TestFile>();
  /** Buffers handed to the addon at open, by fh, to check they get wiped at release. */
  readonly handedOver = new Map<number, SecureBuffer>();
  readonly released = new Set<number>();
  /** For 'shared' files: the fs's own holder of each file's memory (drop it with wipe()). */
  readonly held = new Map<string, SecureBuffer>();
  /** When set for a name, lookup/open of it waits for this promise first. */
  readonly gates = new Map<string, Promise<void>>();
  /** Called on every handler invocation (tests use it to wait for a condition). */
  onCall: ((c: Call) => void) | undefined;
  entryTimeout = 0;
  private nextFh = 100;
  private readonly mtimeMs = Date.now();

  add(name: string, content: Buffer | string, serve: TestFile['serve'] = 'buffer'): TestFile {
    const f: TestFile = { name, ino: 2 + this.files.size, content: Buffer.from(content), serve };
    if (serve === 'shared') {
      const mem = allocSecureBuffer(f.content.length);
      mem.write(f.content);
      this.held.set(name, mem);
    }
    this.files.set(name, f);
    this.byIno.set(f.ino, f);
    return f;
  }

  attrOf(f: TestFile): FileAttr {
    return {
      ino: f.ino,
      mode: constants.S_IFREG | 0o444,
      nlink: 1,
      uid: 0,
      gid: 0,
      size: f.content.length,
      mtimeMs: this.mtimeMs,
    };
  }

  private record(c: Call): void {
    this.calls.push(c);
    this.onCall?.(c);
  }

  callsOf(op: string, name?: string): Call[] {
    return this.calls.filter((c) => c.op === op && (name === undefined || c.name === name));
  }

  readonly handlers: FuseHandlers = {
    lookup: async (ctx, parent, name) => {
      this.record({ op: 'lookup', ctx, ino: parent, name });
      await this.gates.get(name);
      const f = this.files.get(name);
      if (parent !== ROOT || !f) throw new FuseError(Errno.ENOENT);
      return { attr: this.attrOf(f), entryTimeout: this.entryTimeout, attrTimeout: 0 };
    },
    getattr: (ctx, ino) => {
      this.record({ op: 'getattr', ctx, ino });
      if (ino === ROOT) {
        return {
          attr: { ino, mode: constants.S_IFDIR | 0o555, nlink: 2, uid: 0, gid: 0, size: 0, mtimeMs: this.mtimeMs },
          attrTimeout: 0,
        };
      }
      const f = this.byIno.get(ino);
      if (!f) throw new FuseError(Errno.ENOENT);
      return { attr: this.attrOf(f), attrTimeout: 0 };
    },
    readdir: (ctx, ino): DirEntry[] => {
      this.record({ op: 'readdir', ctx, ino });
      if (ino !== ROOT) throw new FuseError(Errno.ENOTDIR);
      return [...this.files.values()].map((f) => ({ name: f.name, attr: this.attrOf(f) }));
    },
    open: async (ctx, ino, _flags) => {
      const f = this.byIno.get(ino);
      this.record({ op: 'open', ctx, ino, name: f?.name });
      if (f) await this.gates.get(f.name);
      if (!f) throw new FuseError(Errno.ENOENT);
      if (f.name.startsWith('denied')) throw new FuseError(Errno.EACCES);
      if (f.name.startsWith('broken')) throw new Error('handler bug');
      const fh = this.nextFh++;
      if (f.serve === 'js') return { fh, directIo: true, keepCache: false };
      if (f.serve === 'dead') {
        const gone = allocSecureBuffer(1);
        gone.wipe();
        return { fh, directIo: true, keepCache: false, content: gone };
      }
      if (f.serve === 'plain') return { fh, directIo: true, keepCache: false, content: Uint8Array.from(f.content) };
      if (f.serve === 'shared') {
        const held = this.held.get(f.name);
        if (!held?.alive) throw new FuseError(Errno.EIO);
        return { fh, directIo: true, keepCache: false, content: held.share() };
      }
      const content = allocSecureBuffer(f.content.length);
      content.write(f.content);
      this.handedOver.set(fh, content);
      return { fh, directIo: true, keepCache: false, content };
    },
    read: (ctx, ino, fh, size, offset) => {
      this.record({ op: 'read', ctx, ino, fh });
      const f = this.byIno.get(ino);
      if (!f) throw new FuseError(Errno.EBADF);
      return f.content.subarray(offset, offset + size);
    },
    release: (ctx, ino, fh) => {
      this.record({ op: 'release', ctx, ino, fh });
      this.released.add(fh);
    },
    statfs: (ctx, ino) => {
      this.record({ op: 'statfs', ctx, ino });
      return { blocks: 0, files: this.files.size, nameMax: 255 };
    },
  };
}

/** A temp dir (0755 so other uids can reach the mount), removed after the test. */
export async function tempMountpoint(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pal-native-'));
  await chmod(dir, 0o755);
  t.teardown(() => rm(dir, { recursive: true, force: true }).catch(() => undefined));
  return dir;
}

/** Mounts `fs` at a fresh temp dir; unmounts at teardown even if the test failed. */
export async function mountTestFs(
  t: ExecutionContext,
  fs: TestFs,
  options: NativeMountOptions = {},
): Promise<{ mountpoint: string; fuse: FuseMount }> {
  const mountpoint = await tempMountpoint(t);
  const fuse = await mount(mountpoint, fs.handlers, { extraOptions: ['allow_other'], ...options });
  t.teardown(() => fuse.unmount());
  return { mountpoint, fuse };
}

export interface ChildResult {
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

export interface RunningChild {
  readonly pid: number;
  /** Its standard input, when spawned with stdio[0] 'pipe'. */
  readonly stdin: NodeJS.WritableStream | null;
  /** Standard output so far. */
  stdout(): string;
  readonly done: Promise<ChildResult>;
  kill(signal?: NodeJS.Signals): void;
}

/** Spawns a caller; `done` settles when it exits (killed at test end if still running). */
export function startChild(t: ExecutionContext, cmd: string, args: string[], opts: SpawnOptions = {}): RunningChild {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  const out: Buffer[] = [];
  let err = '';
  child.stdout?.on('data', (d: Buffer) => out.push(d));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${cmd}`);
  let exited = false;
  const done = new Promise<ChildResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      exited = true;
      resolve({ pid, code, signal, stdout: Buffer.concat(out), stderr: err });
    });
  });
  t.teardown(() => {
    if (!exited) child.kill('SIGKILL');
  });
  return {
    pid,
    stdin: child.stdin,
    done,
    stdout: () => Buffer.concat(out).toString(),
    kill: (s = 'SIGTERM') => void child.kill(s),
  };
}

export function runChild(
  t: ExecutionContext,
  cmd: string,
  args: string[],
  opts: SpawnOptions = {},
): Promise<ChildResult> {
  return startChild(t, cmd, args, opts).done;
}

/** A promise plus its resolver, to hold a handler until the test lets it go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

export const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];
