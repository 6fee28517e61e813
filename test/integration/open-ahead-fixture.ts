// A view of pal's filesystem over a real FUSE mount with the warm path on, and new processes that
// read through it: shared by the open-ahead and adoption tests. (Identity is pal's own interface,
// faked: the test decides which container a pid is in, and what cgroup text it was attributed by.)
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createPalFilesystem } from '../../src/fs/index.js';
import { mount, secureBufferFrom } from '../../src/native/index.js';
import type { Identity } from '../../src/identity/types.js';
import type { ManifestEntry } from '../../src/store/index.js';
import { harness, entry, container, IMAGE_DEMO, lineAuditSink } from '../unit/fs/fakes.js';
import { startTime } from '../helpers/proc-start.js';

export const READER = 2201; // the readers' uid (and gid)

export interface ViewOptions {
  /**
   * The cgroup text the resolver "read" for a container caller (IdentityResolver.containerCgroup);
   * absent: none is ever vouched for, so the addon adopts no process.
   */
  readonly containerCgroup?: (pid: number) => string | undefined;
  /** The callers' reuse window (ms); default 5,000. */
  readonly callerReuseMs?: number;
}

/** The view over real FUSE, fast path on; `get` decrypts (counted), `peek` answers what was decrypted, like SecretCache. */
export async function mountView(threads: number, options: ViewOptions = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'pal-open-ahead-'));
  await chmod(dir, 0o755);
  const mountpoint = join(dir, 'mnt');
  await mkdir(mountpoint);
  const h = harness([entry('db-password', ['demo'], { size: 14 }), entry('api-token', ['demo'], { size: 14 })]);
  const plaintexts = new Map([
    ['db-password', secureBufferFrom(Buffer.from('hunter2-secret'))],
    ['api-token', secureBufferFrom(Buffer.from('tok-0123456789'))],
  ]);
  const identities = new Map<number, Identity>();
  const startTimes = new Map<number, string | undefined>();
  /** Pids JS's resolver was asked about. */
  const resolved = new Set<number>();
  const decrypted = new Set<string>();
  const opened = (e: ManifestEntry) => ({
    plaintext: plaintexts.get(e.name)!,
    sealedName: e.name,
    sealedLabels: e.labels,
  });
  const { containerCgroup } = options;
  const view = createPalFilesystem({
    ...h.deps,
    audit: lineAuditSink(h.audit), // the addon writes the lines of the opens it replays
    identity: {
      async resolve(c) {
        resolved.add(c.pid);
        const who = identities.get(c.pid);
        if (!who)
          return { kind: 'unknown', pid: c.pid, tgid: c.pid, uid: c.uid, gid: c.gid, reason: 'no such process' };
        return { ...who, startTime: startTimes.get(c.pid) } as Identity;
      },
      startTime: (pid) => startTimes.get(pid),
      ...(containerCgroup
        ? {
            containerCgroup: (pid: number, st: string) =>
              startTimes.get(pid) === st && identities.get(pid)?.kind === 'container'
                ? containerCgroup(pid)
                : undefined,
          }
        : {}),
    },
    secrets: {
      get: async (e) => {
        decrypted.add(e.name);
        return opened(e);
      },
      peek: (e) => (decrypted.has(e.name) ? opened(e) : undefined),
    },
    clock: () => performance.now(),
    fastPath: true,
    // Long enough that a loaded machine still has the caller in its window between LOOKUP and OPEN.
    callerReuseMs: options.callerReuseMs ?? 5_000,
  });
  const fuse = await mount(mountpoint, view.handlers, { extraOptions: ['allow_other'], threads });
  view.attachKernel(fuse);
  const close = async (): Promise<void> => {
    view.attachKernel(undefined);
    await fuse.unmount();
    await rm(dir, { recursive: true, force: true });
    for (const p of plaintexts.values()) p.wipe();
  };
  return { h, view, fuse, mountpoint, identities, startTimes, resolved, decrypted, close };
}

export type MountedView = Awaited<ReturnType<typeof mountView>>;

/** The cgroup text of a process as the kernel shows it (the addon's own read is the same). */
export function ownCgroup(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cgroup`, 'latin1');
  } catch {
    return undefined;
  }
}

// Reads argv[1] on each line of stdin: "read" opens, reads and closes it; "open" opens and reads
// it and keeps it open, "close" closes what it kept; "exit" ends it. Prints what it read (or the
// error code, or "closed"), then a newline.
const READER_SCRIPT = `
const fs = require('node:fs');
let kept;
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'exit') process.exit(0);
  let out;
  try {
    if (line === 'close') {
      fs.closeSync(kept);
      out = 'closed';
    } else {
      const fd = fs.openSync(process.argv[1], 'r');
      const b = Buffer.alloc(64);
      out = b.toString('utf8', 0, fs.readSync(fd, b, 0, 64, 0));
      if (line === 'open') kept = fd;
      else fs.closeSync(fd);
    }
  } catch (e) {
    out = e.code;
  }
  process.stdout.write(out + '\\n');
});
`;

export interface ReaderOptions {
  readonly image?: string;
  readonly name?: string;
  readonly uid?: number;
}

/** A new process in container `name` of `image` (known to the fake resolver), reading `secret` when asked. */
export async function startReader(v: MountedView, secret: string, o: ReaderOptions = {}) {
  const uid = o.uid ?? READER;
  const child = spawn(process.execPath, ['-e', READER_SCRIPT, join(v.mountpoint, secret)], {
    uid,
    gid: uid,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const pid = child.pid!;
  v.identities.set(pid, { ...container(pid, o.image ?? IMAGE_DEMO, o.name ?? 'app'), uid, gid: uid });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines: string[] = [];
  let waiting: ((line: string) => void) | undefined;
  let buf = '';
  child.stdout.on('data', (b: Buffer) => {
    buf += b.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    if (waiting && lines.length > 0) waiting(lines.shift()!);
  });
  const ask = (command: string): Promise<string> =>
    new Promise((resolve, reject) => {
      if (lines.length > 0) return resolve(lines.shift()!);
      waiting = (line) => {
        waiting = undefined;
        resolve(line);
      };
      void exited.then((code) => reject(new Error(`reader exited (${code})`)));
      child.stdin.write(`${command}\n`);
    });
  v.startTimes.set(pid, await startTime(pid));
  return {
    pid,
    /** One open, read and close; what it read, or the error code. */
    read: (): Promise<string> => ask('read'),
    /** Opens and reads, and keeps the file open; what it read, or the error code. */
    open: (): Promise<string> => ask('open'),
    /** Closes what open() kept ("closed", or the error code). */
    close: (): Promise<string> => ask('close'),
    /** Ends it; resolves once it is gone (reaped). */
    stop: async (): Promise<void> => {
      child.stdin.write('exit\n');
      await exited;
    },
  };
}

/** A new process in container `name` of `image` reads `secret` once; its pid and what it got. */
export async function readOnce(
  v: MountedView,
  secret: string,
  o: ReaderOptions = {},
): Promise<{ pid: number; got: string }> {
  const reader = await startReader(v, secret, o);
  try {
    return { pid: reader.pid, got: await reader.read() };
  } finally {
    await reader.stop();
  }
}
