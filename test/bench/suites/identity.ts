// Benchmark: attributing a FUSE caller to its container, with 10 and 200 containers running
// on a private dockerd. "cold" = first sight of a container (stat + cgroup + status reads,
// container and image inspect over the Docker socket, the init's cgroup); "cached" = a caller
// already seen (the pid-reuse guard plus a few map lookups), next to the guard alone on the same
// processes. Resolvers are built as pald builds them (the addon's pidfds: one pidfd_send_signal
// per cached caller); the "stat-fd pins" rows are the procfs fallback (a pread and a parse of the
// held /proc/<pid>/stat), measured in rounds alternating with the pidfd ones.
// In a run that includes the scale suite, the container rows are measured there, on the
// containers it starts anyway (200 container starts less: minutes on a loaded machine).

import { pathToFileURL } from 'node:url';
import { createIdentityResolver } from '../../../src/identity/index.js';
import { parseCgroupFile } from '../../../src/identity/cgroup.js';
import { closeFd, openStat, readStat, readStatFd } from '../../../src/identity/procfs.js';
import { pidfds } from '../../../src/native/index.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { startDockerd, type TestDockerd } from '../../../scripts/components/dockerd.js';
import type { BenchContext } from '../harness.js';

export interface BenchRow {
  suite: string;
  name: string;
  opsPerSec: number;
  p50us: number;
  p99us: number;
  note?: string;
  /** The row others in this suite are compared with (× floor in `npm run bench`). */
  floor?: boolean;
}

const SUITE = 'identity';
/** PAL_BENCH_IDENTITY_CONTAINERS=10 for a quick run; the report uses 10 and 200. */
const CONTAINER_COUNTS = (process.env['PAL_BENCH_IDENTITY_CONTAINERS'] ?? '10,200')
  .split(',')
  .map(Number)
  .filter((n) => Number.isSafeInteger(n) && n > 0)
  .sort((a, b) => a - b);
const CACHED_ITERATIONS = 200_000;
/** Cached rows alternate pidfd and stat-fd resolvers in this many rounds (load drifts within a run). */
const CACHED_ROUNDS = 4;

export async function run(ctx?: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  rows.push(...(await microRows()));
  rows.push(...(await firstSightRows()));
  if (ctx?.suites.includes('scale')) return rows;
  const dockerd = await startDockerd();
  try {
    await dockerd.importBusyboxImage('pal-bench/identity:1', { 'pal.labels': 'bench' });
    const pids: number[] = [];
    for (const count of CONTAINER_COUNTS) {
      await startContainers(dockerd, pids.length, count - pids.length, pids);
      rows.push(...(await attributionRows(dockerd, pids)));
    }
  } finally {
    await dockerd.cleanup();
  }
  return rows;
}

/** The pure parts, for scale: what a cached attribution must stay close to. */
async function microRows(): Promise<BenchRow[]> {
  const id = 'fa2546a38baf39bb5fc4bcdc6ace0ea1062c7f056ca5e4eed7db2084ae66be9c';
  const text = ['name=systemd', 'pids', 'blkio', 'freezer', 'devices', 'memory', 'cpuset', 'cpuacct', 'cpu']
    .map((c, i) => `${9 - i}:${c}:/docker/${id}`)
    .concat([`0::/docker/${id}`, ''])
    .join('\n');
  // A single-threaded process like a container's `cat` (node's own stat sums all its threads).
  const sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
  const pid = sleeper.pid!;
  const held = openStat('/proc', pid);
  const pidfd = pidfds.open(pid);
  try {
    return [
      timeSync('parseCgroupFile (cgroup v1, 10 lines)', 100_000, () => parseCgroupFile(text)),
      timeSync('open+read+close /proc/<pid>/stat', 100_000, () => readStat('/proc', pid)),
      {
        ...timeSync('pread a held /proc/<pid>/stat fd', 100_000, () => readStatFd(held), 'the stat-fd reuse guard'),
        floor: true,
      },
      timeSync('pidfd_send_signal(0) on a held pidfd', 100_000, () => pidfds.alive(pidfd), 'the pidfd reuse guard'),
    ];
  } finally {
    closeFd(held);
    pidfds.close(pidfd);
    sleeper.kill('SIGKILL');
  }
}

/**
 * First sight of a process whose container needs no Docker round trip (host processes here): pald's
 * pidfd pins and the stat-fd pins, each on fresh processes, in alternating rounds of 50.
 */
async function firstSightRows(): Promise<BenchRow[]> {
  const samples = { pidfd: [] as number[], stat: [] as number[] };
  for (let round = 0; round < 8; round++) {
    for (const kind of ['pidfd', 'stat'] as const) {
      samples[kind].push(...(await firstSights(kind === 'pidfd' ? { pidfds } : {}, 25)));
    }
  }
  return [
    row(
      'first sight of a process, no inspect needed',
      samples.pidfd,
      undefined,
      'pidfd (tgid from it), read stat+cgroup+namespaces, re-check',
    ),
    row(
      'first sight of a process, no inspect needed, stat-fd pins',
      samples.stat,
      undefined,
      'pin stat fd, read stat+cgroup+status+namespaces, re-check',
    ),
  ];
}

async function firstSights(pins: { pidfds?: typeof pidfds }, count: number): Promise<number[]> {
  const children: ChildProcess[] = [];
  const resolver = createIdentityResolver({ dockerHost: 'unix:///nonexistent/docker.sock', ...pins });
  try {
    for (let i = 0; i < count; i++) children.push(spawn('sleep', ['600'], { stdio: 'ignore' }));
    const samples: number[] = [];
    for (const child of children) {
      const t0 = process.hrtime.bigint();
      const identity = await resolver.resolve({ pid: child.pid!, uid: 0, gid: 0 });
      samples.push(Number(process.hrtime.bigint() - t0) / 1000);
      if (identity.kind !== 'host')
        throw new Error(`bench: host process resolved to ${identity.kind}: ${identity.reason}`);
    }
    return samples;
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await resolver.close();
  }
}

async function startContainers(dockerd: TestDockerd, from: number, count: number, pids: number[]): Promise<void> {
  const parallel = 6;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const n = from + next++;
      const id = await dockerd.docker(
        'run',
        '-d',
        '--network',
        'none',
        '--name',
        `bench-${n}`,
        'pal-bench/identity:1',
        'sleep',
        '36000',
      );
      pids.push(Number(await dockerd.docker('inspect', '-f', '{{.State.Pid}}', id)));
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

export async function attributionRows(dockerd: TestDockerd, pids: readonly number[]): Promise<BenchRow[]> {
  const count = pids.length;
  // Fresh resolvers: every container is unseen. The one pald builds (pidfd pins), and stat-fd pins.
  const resolver = createIdentityResolver({ dockerHost: dockerd.host, pidfds });
  const statResolver = createIdentityResolver({ dockerHost: dockerd.host });
  try {
    const cold: number[] = [];
    for (const pid of pids) {
      const t0 = process.hrtime.bigint();
      const identity = await resolver.resolve({ pid, uid: 0, gid: 0 });
      cold.push(Number(process.hrtime.bigint() - t0) / 1000);
      if (identity.kind !== 'container')
        throw new Error(`bench: pid ${pid} resolved to ${identity.kind}: ${identity.reason}`);
      await statResolver.resolve({ pid, uid: 0, gid: 0 });
    }
    const cached: Cached = { samples: [], totalUs: 0 };
    const cachedStat: Cached = { samples: [], totalUs: 0 };
    for (let round = 0; round < CACHED_ROUNDS; round++) {
      await cachedRound(resolver, pids, CACHED_ITERATIONS / CACHED_ROUNDS, cached);
      await cachedRound(statResolver, pids, CACHED_ITERATIONS / CACHED_ROUNDS, cachedStat);
    }
    return [
      ...guardRows(pids),
      row(
        `cold attribution, ${count} containers running`,
        cold,
        undefined,
        'first sight: /proc reads + container and image inspect',
      ),
      row(
        `cached attribution, ${count} containers running`,
        cached.samples,
        cached.totalUs,
        'pidfd pins (pald): one pidfd_send_signal (pid-reuse guard) + cache lookups',
      ),
      row(
        `cached attribution, ${count} containers running, stat-fd pins`,
        cachedStat.samples,
        cachedStat.totalUs,
        'the procfs fallback: one /proc/<pid>/stat pread (pid-reuse guard) + cache lookups',
      ),
    ];
  } finally {
    await Promise.all([resolver.close(), statResolver.close()]);
  }
}

interface Cached {
  readonly samples: number[];
  totalUs: number;
}

/** `iterations` cached attributions, round robin over `pids`, added to `into`. */
async function cachedRound(
  resolver: ReturnType<typeof createIdentityResolver>,
  pids: readonly number[],
  iterations: number,
  into: Cached,
): Promise<void> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const pid = pids[i % pids.length]!;
    const s = process.hrtime.bigint();
    const identity = await resolver.resolve({ pid, uid: 0, gid: 0 });
    into.samples.push(Number(process.hrtime.bigint() - s) / 1000);
    if (identity.kind !== 'container') throw new Error(`bench: cached pid ${pid} resolved to ${identity.kind}`);
  }
  into.totalUs += Number(process.hrtime.bigint() - t0) / 1000;
}

/** The reuse guards alone, on the same processes in the same order: what cached attribution costs beyond them is the resolver's lookups. */
function guardRows(pids: readonly number[]): BenchRow[] {
  const count = pids.length;
  const held = pids.map((pid) => openStat('/proc', pid));
  const heldPidfds = pids.map((pid) => pidfds.open(pid));
  try {
    let next = 0;
    const stat = timeSync(
      `pread the held /proc/<pid>/stat fds of ${count} containers' processes, round robin`,
      CACHED_ITERATIONS,
      () => readStatFd(held[next++ % count]!),
      'the stat-fd guard alone',
    );
    const pidfd = timeSync(
      `pidfd_send_signal(0) on the held pidfds of ${count} containers' processes, round robin`,
      CACHED_ITERATIONS,
      () => pidfds.alive(heldPidfds[next++ % count]!),
      'the pidfd guard alone',
    );
    return [stat, pidfd];
  } finally {
    for (const fd of held) closeFd(fd);
    for (const fd of heldPidfds) pidfds.close(fd);
  }
}

function timeSync(name: string, iterations: number, fn: () => unknown, note?: string): BenchRow {
  for (let i = 0; i < 1000; i++) fn();
  const samples: number[] = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const s = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - s) / 1000);
  }
  return row(name, samples, Number(process.hrtime.bigint() - t0) / 1000, note);
}

function row(name: string, samplesUs: number[], totalUs: number | undefined, note?: string): BenchRow {
  const sorted = [...samplesUs].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const total = totalUs ?? samplesUs.reduce((a, b) => a + b, 0);
  return {
    suite: SUITE,
    name,
    opsPerSec: Math.round((samplesUs.length / total) * 1e6),
    p50us: round(at(0.5)),
    p99us: round(at(0.99)),
    ...(note !== undefined ? { note } : {}),
  };
}

function round(us: number): number {
  return Math.round(us * 100) / 100;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().then(
    (rows) => {
      for (const r of rows)
        console.log(
          `${r.suite.padEnd(9)} ${r.name.padEnd(48)} ${String(r.opsPerSec).padStart(9)} op/s  p50 ${r.p50us} µs  p99 ${r.p99us} µs${r.note ? `  (${r.note})` : ''}`,
        );
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
