// The real path: open+read+close of a sealed 64-byte secret from inside a container through
// pald, warm (identity and plaintext cached) and cold (first open by a new container: attribution,
// trust, with and without the first decrypt), next to tmpfs and the C libfuse3 floor read from the same container.
import { type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { clearStaleMount } from '../../../src/native/index.js';
import { startDockerd, type TestDockerd } from '../../../scripts/components/dockerd.js';
import { startPald, type TestPald } from '../../helpers/pald.js';
import { failureReason, median, pairedRatio, percentile, quartiles, type BenchContext } from '../harness.js';
import { cpuSampler, paldKnobs } from '../pald-knobs.js';

const execFileAsync = promisify(execFile);
const SUITE = 'pald';
const knobs = paldKnobs();
const CLIENTS = knobs.clients;
const SIZE = 64;
// 12 first opens (was 20): each costs a pal seal and a docker exec; the goal is about their p50.
const COLD_SAMPLES = 12;

export const title = 'pald: sealed secret read from inside a container';

/** A port free on loopback now (the kernel picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export async function run(ctx: BenchContext): Promise<void> {
  const bench = join(ctx.root, 'test', 'bench');
  const nativeSrc = join(ctx.root, 'native', 'src');
  const binDir = join(ctx.tmp, 'pald-bin');
  await mkdir(binDir, { recursive: true });
  // Static binaries: the busybox containers have no libc.
  const client = await ctx.compile('pald-client-static', [join(bench, 'client.c')], ['-static', '-pthread']);
  await execFileAsync('cp', [client, join(binDir, 'client')]);
  const cold = await ctx.compile('pald-coldopen-static', [join(bench, 'coldopen.c')], ['-static']);
  await execFileAsync('cp', [cold, join(binDir, 'coldopen')]);
  const { stdout: fuseFlags } = await execFileAsync('pkg-config', ['--cflags', '--libs', 'fuse3']);
  const floorBin = await ctx.compile(
    'cfloor',
    [join(bench, 'cfloor', 'floor.c'), join(nativeSrc, 'fuse_io.c')],
    [`-I${nativeSrc}`, ...fuseFlags.trim().split(/\s+/)],
  );

  const tmpfs = join(ctx.tmp, 'pald-tmpfs');
  const floorMnt = join(ctx.tmp, 'pald-floor');
  await mkdir(tmpfs, { recursive: true });
  await mkdir(floorMnt, { recursive: true });
  let dockerd: TestDockerd | undefined;
  let pald: TestPald | undefined;
  let palMetrics: TestPald | undefined;
  let palFasts: (TestPald | undefined)[] = [];
  let floor: ChildProcess | undefined;
  let tmpfsMounted = false;
  const containers: string[] = [];
  try {
    await execFileAsync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'pal-bench', tmpfs]);
    tmpfsMounted = true;
    await writeFile(join(tmpfs, 'file'), Buffer.alloc(SIZE, 'x'));
    floor = await ctx.startServer(floorBin, [floorMnt]);

    dockerd = await startDockerd();
    const image = await dockerd.importBusyboxImage('pal-bench/pald:1', { 'pal.labels': 'bench' });
    // The three palds start side by side (keygen, mount), each with its own environment.
    const metricsListen = `127.0.0.1:${await freePort()}`;
    const host = dockerd.host;
    const started = await Promise.allSettled([
      startPald({ dockerHost: host, env: { PAL_FAST_PATH: '0' } }),
      // metrics.listen set, the warm path on as by default: what an operator who scrapes pald runs.
      startPald({ dockerHost: host, metricsListen, env: { PAL_FAST_PATH: '1' } }),
      ...knobs.fastVariants.map((v) => startPald({ dockerHost: host, env: { PAL_FAST_PATH: '1', ...v.env } })),
    ]);
    // Kept before any throw, so that `finally` stops the ones that did start.
    [pald, palMetrics, ...palFasts] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed || !pald || !palMetrics || palFasts.some((p) => !p))
      throw failed?.reason ?? new Error('a pald did not start');
    // The cold rows measure pald as it runs by default, warm path on (the first fast variant):
    // until the eighth sitting they ran on the warm-path-off pald, where every request goes to JS.
    const coldPald = palFasts[0]!;
    // Seals edit a pald's manifest one at a time; different palds' seals run side by side.
    const sealCold = async (): Promise<void> => {
      await coldPald.seal('warm', ['bench'], randomBytes(SIZE));
      for (let i = 0; i < COLD_SAMPLES; i++) await coldPald.seal(`cold-${i}`, ['bench'], randomBytes(SIZE));
    };
    await Promise.all([
      sealCold(),
      pald.seal('warm', ['bench'], randomBytes(SIZE)),
      palMetrics.seal('warm', ['bench'], randomBytes(SIZE)),
      ...palFasts.slice(1).map((p) => p!.seal('warm', ['bench'], randomBytes(SIZE))),
    ]);
    const mounts = (mountpoint: string): string[] => [
      '-v',
      `${mountpoint}:/run/pal:ro,rslave`,
      '-v',
      `${tmpfs}:/bench/tmpfs:ro`,
      '-v',
      `${floorMnt}:/bench/floor:ro`,
      '-v',
      `${binDir}:/bench/bin:ro`,
    ];
    const startOn = async (name: string, mountpoint: string): Promise<string> => {
      await dockerd!.docker(
        'run',
        '-d',
        '--name',
        name,
        '--network',
        'none',
        ...mounts(mountpoint),
        image,
        'sleep',
        '3600',
      );
      containers.push(name);
      return name;
    };
    const coldSamples = knobs.warmOnly ? 0 : COLD_SAMPLES;
    // Every container up front, 8 at a time: a cold sample is the first open by a container
    // that has not opened anything yet, however long ago it started.
    const toStart: [string, string][] = [
      ['pald-bench-warm', pald.mountpoint],
      ['pald-bench-metrics', palMetrics.mountpoint],
      ...palFasts.map((p, i): [string, string] => [
        i === 0 ? 'pald-bench-fast' : `pald-bench-fast-${i}`,
        p!.mountpoint,
      ]),
      ...Array.from({ length: coldSamples }, (_, i): [string, string] => [`pald-bench-cold-${i}`, coldPald.mountpoint]),
      ...Array.from({ length: coldSamples }, (_, i): [string, string] => [`pald-bench-new-${i}`, coldPald.mountpoint]),
    ];
    for (let i = 0; i < toStart.length; i += 8) {
      ctx.signal.throwIfAborted();
      await Promise.all(toStart.slice(i, i + 8).map(([name, mnt]) => startOn(name, mnt)));
    }

    const inside = 'pald-bench-warm';
    interface WarmCase {
      readonly name: string;
      readonly path: string;
      readonly floor?: boolean;
      readonly container?: string;
      readonly pid?: number | undefined;
    }
    interface ClientRun {
      ops: number;
      seconds: number;
      p50_ns: number;
      p99_ns: number;
      errors: number;
    }
    /** One client run of `c` from inside its container. */
    const runClient = async (c: WarmCase, clients: number, seconds: number): Promise<ClientRun> => {
      const cpuDone = knobs.cpu && c.pid ? await cpuSampler(c.pid, `${c.name}, ${clients} client(s)`) : undefined;
      const { stdout } = await execFileAsync(
        'docker',
        [
          '-H',
          dockerd!.host,
          'exec',
          c.container ?? inside,
          '/bench/bin/client',
          c.path,
          String(clients),
          String(Math.round(seconds * 1000)),
          String(ctx.warmupMs),
          String(SIZE),
        ],
        { signal: ctx.signal },
      );
      const run = JSON.parse(stdout) as ClientRun;
      await cpuDone?.(run.seconds > 0 ? run.ops / run.seconds : undefined);
      return run;
    };
    const opsPerSec = (r: ClientRun): number => r.ops / r.seconds;
    /**
     * A row from its runs: the median round's figures (one run: that run's). With `floorRuns` (the
     * floor's rounds, run i just before this case's run i), its × floor is the median of the
     * per-round ratios: a pair measured seconds apart shares the machine's moment, where the
     * floor's median and the case's may come from different minutes.
     */
    const reportRuns = (
      c: WarmCase,
      clients: number,
      runs: readonly ClientRun[],
      extra: { floorRuns?: readonly ClientRun[]; group?: string | undefined } = {},
    ): void => {
      const { floorRuns, group } = extra;
      const ratioToFloor =
        floorRuns && !c.floor ? pairedRatio(floorRuns.map(opsPerSec), runs.map(opsPerSec)) : undefined;
      ctx.report({
        suite: SUITE,
        name: c.name,
        clients,
        opsPerSec: median(runs.map(opsPerSec)),
        p50Us: median(runs.map((r) => r.p50_ns / 1000)),
        p99Us: median(runs.map((r) => r.p99_ns / 1000)),
        errors: runs.reduce((n, r) => n + r.errors, 0),
        floor: c.floor === true,
        ...(ratioToFloor !== undefined ? { ratioToFloor } : {}),
        ...(group !== undefined ? { group } : {}),
      });
    };
    /** One run per client count, each reported as a row of `group`; returns them by client count. */
    const measure = async (c: WarmCase, group?: string): Promise<Map<number, ClientRun>> => {
      const got = new Map<number, ClientRun>();
      for (const clients of CLIENTS) {
        const run = await runClient(c, clients, ctx.seconds);
        got.set(clients, run);
        reportRuns(c, clients, [run], { group });
      }
      return got;
    };
    const floorCase: WarmCase = {
      name: 'C floor (in container)',
      path: '/bench/floor/file',
      floor: true,
      pid: floor.pid,
    };
    // The same warm read with the warm path in the addon (PAL_FAST_PATH=1, src/fs/warm-path.ts).
    const fastCases: WarmCase[] = knobs.fastVariants.map((v, i) => ({
      name: `pald warm, fast path on${v.label ? `, ${v.label}` : ''} (in container)`,
      path: '/run/pal/warm',
      container: toStart[2 + i]![0],
      pid: palFasts[i]!.pid,
    }));
    await measure(
      { name: 'tmpfs (in container)', path: '/bench/tmpfs/file' },
      knobs.warmOnly && knobs.rounds > 1 ? 'round 1' : undefined,
    );
    if (knobs.warmOnly) {
      // BENCH_PALD_WARM_ONLY: the floor and the fast-path palds, round by round, each round a row.
      // Each round's rows are compared with that round's floor (a group per round). The palds'
      // order turns round by round: the case right after the floor fared ≈ 0.03 better in ratio
      // than the one after it, whichever build it was (nineteenth sitting), so a fixed order let
      // position decide A/Bs.
      const byCase = new Map([floorCase, ...fastCases].map((c) => [c, [] as Map<number, ClientRun>[]]));
      for (let round = 0; round < knobs.rounds; round++) {
        const group = knobs.rounds > 1 ? `round ${round + 1}` : undefined;
        byCase.get(floorCase)!.push(await measure(floorCase, group));
        const order = round % 2 === 0 ? fastCases : [...fastCases].reverse();
        for (const c of order) byCase.get(c)!.push(await measure(c, group));
      }
      if (knobs.rounds > 1) {
        // All rounds at once: each pald's median of its per-round ratios, and their quartiles.
        const runsOf = (c: WarmCase, clients: number): ClientRun[] => byCase.get(c)!.map((r) => r.get(clients)!);
        for (const clients of CLIENTS) {
          const floorRuns = runsOf(floorCase, clients);
          reportRuns(floorCase, clients, floorRuns, { group: 'all rounds' });
          for (const c of fastCases) {
            const runs = runsOf(c, clients);
            const [q1, q3] = quartiles(floorRuns.map((f, i) => opsPerSec(f) / opsPerSec(runs[i]!)));
            const spread = `${knobs.rounds} rounds, quartiles of the ratios ${q1.toFixed(2)}-${q3.toFixed(2)}`;
            reportRuns({ ...c, name: `${c.name} (${spread})` }, clients, runs, { floorRuns, group: 'all rounds' });
          }
        }
      }
      return;
    }
    // The floor and every pald in turn, ctx.rounds rounds of ctx.seconds / ctx.rounds each, and
    // each row the median round (as the fuse suite): the floor's own throughput moves by 2× within
    // minutes on this VM, and a ratio to a floor measured half a minute apart measured that move.
    // pald as it runs by default (the fast path on) right after the floor, so that each of its
    // rounds pairs with a floor round seconds before it (reportRuns' ratioToFloor).
    const warmCases: WarmCase[] = [
      floorCase,
      ...fastCases,
      { name: 'pald warm, fast path off (in container)', path: '/run/pal/warm' },
      // The same warm read through a pald with metrics.listen set (SPEC §6) and the warm path on:
      // the cost of counting every decision, to compare with the fast-path row above. (Until the
      // eighteenth sitting this pald ran with the warm path off, a row that measured that instead.)
      {
        name: 'pald warm, fast path on, metrics on (in container)',
        path: '/run/pal/warm',
        container: 'pald-bench-metrics',
      },
    ];
    const runs = new Map(warmCases.map((c) => [c, new Map(CLIENTS.map((n) => [n, [] as ClientRun[]]))]));
    for (let round = 0; round < ctx.rounds; round++)
      for (const clients of CLIENTS)
        for (const c of warmCases)
          runs
            .get(c)!
            .get(clients)!
            .push(await runClient(c, clients, ctx.seconds / ctx.rounds));
    for (const c of warmCases)
      for (const clients of CLIENTS)
        reportRuns(c, clients, runs.get(c)!.get(clients)!, { floorRuns: runs.get(floorCase)!.get(clients)! });

    // Cold rows: the first open by a process of a container that opened nothing before (each
    // sample a container of its own, same image as the warm one, started up front). Their floor
    // is the C floor's first open by a new process in the same containers and minutes: what a
    // cold open costs on this machine without pald (after an idle spell everything runs several
    // times slower here, the floor's thread and the kernel's /proc and FUSE code included).
    const coldSample = async (sample: () => Promise<string>): Promise<number | undefined> => {
      ctx.signal.throwIfAborted(); // a failed sample counts as an error; an interrupt ends the suite
      const stdout = await sample().catch((e: { stdout?: string }) => e.stdout ?? '{"ns":0,"bytes":-1}');
      const r = JSON.parse(stdout) as { ns: number; bytes: number };
      return r.bytes === SIZE ? r.ns / 1000 : undefined;
    };
    const reportCold = (name: string, results: readonly (number | undefined)[], floor = false): void => {
      const samples = results.filter((x): x is number => x !== undefined).sort((a, b) => a - b);
      const mean = samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length);
      ctx.report({
        suite: SUITE,
        name: `${name} (${results.length} samples)`,
        clients: 1,
        opsPerSec: 1e6 / mean,
        p50Us: percentile(samples, 50),
        p99Us: percentile(samples, 99),
        errors: results.length - samples.length,
        group: 'cold',
        ...(floor ? { floor: true } : {}),
      });
    };
    const coldRow = async (name: string, sample: (i: number) => Promise<string>): Promise<void> => {
      const results: (number | undefined)[] = [];
      for (let i = 0; i < COLD_SAMPLES; i++) results.push(await coldSample(() => sample(i)));
      reportCold(name, results);
    };
    const exec = async (container: string, path: string): Promise<string> =>
      (await execFileAsync('docker', ['-H', host, 'exec', container, '/bench/bin/coldopen', path])).stdout;
    // Issue 14's goal: image trusted and plaintext decrypted already (`warm`, by pald-bench-fast),
    // sample by sample with the floor's (which goes first alternates: neither always follows the other).
    const floorCold: (number | undefined)[] = [];
    const goal: (number | undefined)[] = [];
    for (let i = 0; i < COLD_SAMPLES; i++) {
      const container = `pald-bench-new-${i}`;
      const floorOpen = (): Promise<number | undefined> => coldSample(() => exec(container, '/bench/floor/file'));
      if (i % 2 === 0) floorCold.push(await floorOpen());
      goal.push(await coldSample(() => exec(container, '/run/pal/warm')));
      if (i % 2 === 1) floorCold.push(await floorOpen());
    }
    reportCold("C floor cold: a new process's first open", floorCold, true);
    reportCold('pald cold: new container, secret decrypted already', goal);
    // A service reading its secret as it boots: the first process of a container started a moment
    // ago (`docker run -d`, then the probe at once). Its start event had pald decide that container's
    // lookups ahead for its init (src/fs/view-state.ts sponsor), so the addon adopts the probe.
    await coldRow('pald cold: new container, its first process a moment after its start', async (i) => {
      const name = await startOn(`pald-bench-fresh-${i}`, coldPald.mountpoint);
      return exec(name, '/run/pal/warm');
    });
    // A new process of a container that read a moment ago (a shell's next command): the addon adopts
    // it from the one before (same cgroup text, uid and gid; fast_path.h pal_fast_vouch). The row
    // times the second probe's open; the first is the one JS attests.
    await coldRow('pald cold: new process of a container that read a moment ago', async (i) => {
      const probe = '/bench/bin/coldopen /run/pal/warm';
      const args = ['-H', host, 'exec', `pald-bench-new-${i}`, 'sh', '-c', `${probe} >/dev/null && ${probe}`];
      return (await execFileAsync('docker', args)).stdout;
    });
    // The same, plus the first decrypt of a secret no container has read yet.
    await coldRow('pald cold: new container + first decrypt', (i) =>
      exec(`pald-bench-cold-${i}`, `/run/pal/cold-${i}`),
    );
    // A container whose first command is the open: it races the runtime's start event.
    await coldRow('pald cold: `docker run` whose first command opens, decrypted already', async (i) => {
      const name = `pald-bench-run-${i}`;
      containers.push(name);
      const args = ['-H', host, 'run', '--name', name, '--network', 'none', ...mounts(coldPald.mountpoint), image];
      return (await execFileAsync('docker', [...args, '/bench/bin/coldopen', '/run/pal/warm'])).stdout;
    });
  } catch (err) {
    ctx.report({
      suite: SUITE,
      name: 'pald',
      clients: 1,
      unavailable: failureReason(err, ctx.signal),
    });
  } finally {
    for (const c of containers) await dockerd?.docker('rm', '-f', c).catch(() => undefined);
    await pald?.cleanup().catch(() => undefined);
    await palMetrics?.cleanup().catch(() => undefined);
    for (const p of palFasts) await p?.cleanup().catch(() => undefined);
    await dockerd?.cleanup().catch(() => undefined);
    if (floor) await ctx.stopServer(floor);
    clearStaleMount(floorMnt);
    if (tmpfsMounted) await execFileAsync('umount', [tmpfs]).catch(() => undefined);
  }
}
