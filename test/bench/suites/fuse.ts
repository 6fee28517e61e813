// open+read+close of a 64-byte file, 1 and 8 concurrent clients: tmpfs, the C libfuse3 floor
// (pal's settings, and with kernel caching), fuse-native, and pal's addon with JS-served and
// buffer-served reads (JS-thread request reading, and 2 worker threads).
//
// Every filesystem is mounted up front, then each round measures every case once, in turn:
// the machine's background load hits all cases alike, and each row reports the median round.
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { clearStaleMount } from '../../../src/native/index.js';
import { median, type BenchContext, type ClientResult } from '../harness.js';

const execFileAsync = promisify(execFile);
const SUITE = 'fuse';
const CLIENTS = [1, 8];
const SIZE = 64;

export const title = 'FUSE open+read+close, 64-byte file';

interface Case {
  readonly name: string;
  readonly floor?: boolean;
  file?: string;
  failed?: string;
  readonly results: Map<number, ClientResult[]>;
}

export async function run(ctx: BenchContext): Promise<void> {
  const cases: Case[] = [];
  const servers: ChildProcess[] = [];
  const mounts: string[] = [];
  const add = (name: string, floor = false): Case => {
    const c: Case = { name, floor, results: new Map(CLIENTS.map((n) => [n, []])) };
    cases.push(c);
    return c;
  };
  const serve = async (c: Case, cmd: string, args: (mnt: string) => string[]): Promise<void> => {
    const mnt = join(ctx.tmp, c.name.replace(/[^a-z0-9]+/gi, '-'));
    await mkdir(mnt, { recursive: true });
    mounts.push(mnt);
    try {
      servers.push(await ctx.startServer(cmd, args(mnt)));
      c.file = join(mnt, 'file');
    } catch (err) {
      c.failed = err instanceof Error ? err.message : String(err);
    }
  };

  const tmpfs = join(ctx.tmp, 'tmpfs');
  try {
    // tmpfs: no FUSE at all.
    const tmpfsCase = add('tmpfs');
    await mkdir(tmpfs);
    try {
      await execFileAsync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'pal-bench', tmpfs]);
      await writeFile(join(tmpfs, 'file'), Buffer.alloc(SIZE, 'x'));
      tmpfsCase.file = join(tmpfs, 'file');
    } catch (err) {
      tmpfsCase.failed = err instanceof Error ? err.message : String(err);
    }

    const bench = join(ctx.root, 'test', 'bench');
    const nativeSrc = join(ctx.root, 'native', 'src');
    const { stdout: fuseFlags } = await execFileAsync('pkg-config', ['--cflags', '--libs', 'fuse3']);
    const floorBin = await ctx.compile(
      'cfloor',
      [join(bench, 'cfloor', 'floor.c'), join(nativeSrc, 'fuse_io.c')],
      [`-I${nativeSrc}`, ...fuseFlags.trim().split(/\s+/)],
    );
    const servers_ = join(ctx.root, 'dist', 'test', 'bench', 'servers');
    const node = process.execPath;
    await serve(add('C floor (pal settings)', true), floorBin, (m) => [m]);
    await serve(add('C floor, kernel caching'), floorBin, (m) => [m, '--cache']);
    await serve(add('fuse-native hello'), node, (m) => [join(servers_, 'fuse-native-hello.js'), m]);
    await serve(add('pal addon, JS read'), node, (m) => [join(servers_, 'pal-hello.js'), m, 'js']);
    await serve(add('pal addon, buffer read'), node, (m) => [join(servers_, 'pal-hello.js'), m, 'buffer']);
    await serve(add('pal addon, JS read, 2 workers'), node, (m) => [join(servers_, 'pal-hello.js'), m, 'js', '2']);
    await serve(add('pal addon, buffer read, 2 workers'), node, (m) => [
      join(servers_, 'pal-hello.js'),
      m,
      'buffer',
      '2',
    ]);

    const seconds = ctx.seconds / ctx.rounds;
    for (let round = 0; round < ctx.rounds; round++) {
      for (const clients of CLIENTS) {
        for (const c of cases) {
          ctx.signal.throwIfAborted();
          if (!c.file || c.failed) continue;
          try {
            c.results.get(clients)!.push(await ctx.runClient(c.file, clients, SIZE, { seconds, warmupMs: 100 }));
          } catch (err) {
            c.failed = err instanceof Error ? err.message : String(err);
          }
        }
      }
    }
    for (const c of cases) {
      for (const clients of CLIENTS) {
        const rs = c.results.get(clients)!;
        if (c.failed || rs.length === 0) {
          ctx.report({ suite: SUITE, name: c.name, clients, unavailable: c.failed ?? 'not measured' });
          continue;
        }
        ctx.report({
          suite: SUITE,
          name: c.name,
          clients,
          floor: c.floor,
          opsPerSec: median(rs.map((r) => r.ops / r.seconds)),
          p50Us: median(rs.map((r) => r.p50Us)),
          p99Us: median(rs.map((r) => r.p99Us)),
          errors: rs.reduce((n, r) => n + r.errors, 0),
        });
      }
    }
  } finally {
    await Promise.all(servers.map((s) => ctx.stopServer(s)));
    for (const m of mounts) clearStaleMount(m);
    await execFileAsync('umount', [tmpfs]).catch(() => undefined);
  }
}
