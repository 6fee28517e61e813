// open+read+close of a 64-byte file, 1 and 8 concurrent clients: tmpfs, the C libfuse3 floor
// (pal's settings, and with kernel caching), fuse-native, and pal's addon with JS-served and
// buffer-served reads.
import { type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { clearStaleMount } from '../../../src/native/index.js';
import type { BenchContext } from '../harness.js';

const execFileAsync = promisify(execFile);
const SUITE = 'fuse';
const CLIENTS = [1, 8];
const SIZE = 64;

export const title = 'FUSE open+read+close, 64-byte file';

async function measure(ctx: BenchContext, name: string, file: string, floor = false): Promise<void> {
  for (const clients of CLIENTS) {
    const r = await ctx.runClient(file, clients, SIZE);
    ctx.report({ suite: SUITE, name, clients, opsPerSec: r.ops / r.seconds, p50Us: r.p50Us, p99Us: r.p99Us, errors: r.errors, floor });
  }
}

function unavailable(ctx: BenchContext, name: string, err: unknown): void {
  const reason = err instanceof Error ? err.message : String(err);
  for (const clients of CLIENTS) ctx.report({ suite: SUITE, name, clients, unavailable: reason });
}

/** Runs a server that mounts at a fresh dir, measures /file, stops it, leaves no mount. */
async function withServer(ctx: BenchContext, name: string, cmd: string, args: (mnt: string) => string[], floor = false): Promise<void> {
  const mnt = join(ctx.tmp, name.replace(/[^a-z0-9]+/gi, '-'));
  await mkdir(mnt, { recursive: true });
  let server: ChildProcess | undefined;
  try {
    server = await ctx.startServer(cmd, args(mnt));
    await measure(ctx, name, join(mnt, 'file'), floor);
  } catch (err) {
    unavailable(ctx, name, err);
  } finally {
    if (server) await ctx.stopServer(server);
    clearStaleMount(mnt);
  }
}

export async function run(ctx: BenchContext): Promise<void> {
  // tmpfs: no FUSE at all.
  const tmpfs = join(ctx.tmp, 'tmpfs');
  await mkdir(tmpfs);
  try {
    await execFileAsync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'pal-bench', tmpfs]);
    await writeFile(join(tmpfs, 'file'), Buffer.alloc(SIZE, 'x'));
    await measure(ctx, 'tmpfs', join(tmpfs, 'file'));
  } catch (err) {
    unavailable(ctx, 'tmpfs', err);
  } finally {
    await execFileAsync('umount', [tmpfs]).catch(() => undefined);
  }

  const bench = join(ctx.root, 'test', 'bench');
  const nativeSrc = join(ctx.root, 'native', 'src');
  const { stdout: fuseFlags } = await execFileAsync('pkg-config', ['--cflags', '--libs', 'fuse3']);
  const floorBin = await ctx.compile('cfloor', [join(bench, 'cfloor', 'floor.c'), join(nativeSrc, 'fuse_io.c')], [
    `-I${nativeSrc}`,
    ...fuseFlags.trim().split(/\s+/),
  ]);
  await withServer(ctx, 'C floor (pal settings)', floorBin, (m) => [m], true);
  await withServer(ctx, 'C floor, kernel caching', floorBin, (m) => [m, '--cache']);

  const servers = join(ctx.root, 'dist', 'test', 'bench', 'servers');
  await withServer(ctx, 'fuse-native hello', process.execPath, (m) => [join(servers, 'fuse-native-hello.js'), m]);
  await withServer(ctx, 'pal addon, JS read', process.execPath, (m) => [join(servers, 'pal-hello.js'), m, 'js']);
  await withServer(ctx, 'pal addon, buffer read', process.execPath, (m) => [join(servers, 'pal-hello.js'), m, 'buffer']);
}
