// Knobs of the pald suite (test/bench/suites/pald.ts), for measuring one case in the same minutes
// as the floor, from the environment (defaults: the full suite, as `npm run bench` runs it):
//   BENCH_PALD_WARM_ONLY=1      only tmpfs, the floor and the fast-path rows (no fast-off, metrics or
//                               cold rows, no cold containers): a minute instead of several
//   BENCH_PALD_CLIENTS=8        client counts (comma-separated; default 1,8)
//   BENCH_PALD_FAST_ENV='A=1 B=2|A=0'   one fast-path pald per `|`-separated set of extra
//                               environment variables (e.g. PAL_FUSE_THREADS=2), each with its own
//                               container; default one pald with none
//   BENCH_PALD_ROUNDS=3         measure the floor and every fast-path pald this many times, round
//                               by round (A/B alternated within the same minutes, the palds' order
//                               reversed every other round), then an "all rounds" row per pald: its
//                               median per-round ratio and the ratios' quartiles (20 rounds of 5 s
//                               resolve ≈ 0.03 in ratio on this VM; 3-4 rounds do not)
//   BENCH_PALD_CPU=1            print each measured server's CPU per thread (utime+stime from
//                               /proc/<pid>/task/*/stat) and its context switches to stderr, and
//                               its CPU per op, in all and by thread name (the sampled interval
//                               also holds the client's start and warm-up: a few % low for short
//                               cases)
import { readdir, readFile } from 'node:fs/promises';

export interface FastVariant {
  /** Row label suffix: the env it sets, or '' for the plain one. */
  readonly label: string;
  readonly env: Readonly<Record<string, string>>;
}

export interface PaldKnobs {
  readonly warmOnly: boolean;
  readonly clients: readonly number[];
  readonly fastVariants: readonly FastVariant[];
  readonly rounds: number;
  readonly cpu: boolean;
}

function parseVariant(spec: string): FastVariant {
  const env: Record<string, string> = {};
  for (const pair of spec.trim().split(/\s+/).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`BENCH_PALD_FAST_ENV: "${pair}" is not NAME=VALUE`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return { label: spec.trim(), env };
}

export function paldKnobs(env: NodeJS.ProcessEnv = process.env): PaldKnobs {
  const clients = (env.BENCH_PALD_CLIENTS ?? '1,8')
    .split(',')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
  const variants = env.BENCH_PALD_FAST_ENV ? env.BENCH_PALD_FAST_ENV.split('|').map(parseVariant) : [];
  return {
    warmOnly: env.BENCH_PALD_WARM_ONLY === '1',
    clients: clients.length ? clients : [1, 8],
    fastVariants: variants.length ? variants : [{ label: '', env: {} }],
    rounds: Math.max(1, Number(env.BENCH_PALD_ROUNDS ?? 1) || 1),
    cpu: env.BENCH_PALD_CPU === '1',
  };
}

interface ThreadSample {
  readonly comm: string;
  readonly ticks: number;
  readonly switches: number;
}

async function sampleThreads(pid: number): Promise<Map<string, ThreadSample>> {
  const out = new Map<string, ThreadSample>();
  const tids = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  for (const tid of tids) {
    try {
      const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'latin1');
      const status = await readFile(`/proc/${pid}/task/${tid}/status`, 'latin1');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const switches = [...status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)/gm)].reduce(
        (s, m) => s + Number(m[1]),
        0,
      );
      out.set(tid, { comm, ticks: Number(f[11]) + Number(f[12]), switches });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** One thread's use of the CPU over a sampled interval. */
export interface ThreadUse {
  readonly tid: string;
  readonly comm: string;
  /** Share of one core (1 = a whole core). */
  readonly cpu: number;
  readonly switchesPerSec: number;
}

/**
 * The sampler's line: each thread that used ≥ 1% of a core, with its context switches per second;
 * given the run's ops/s, also the CPU per op in all and by thread name (the process's main thread,
 * tid = pid, apart: for pald, its JS thread beside V8's helpers, which share its name).
 */
export function describeThreadCpu(
  label: string,
  pid: number,
  threads: readonly ThreadUse[],
  opsPerSec?: number,
): string {
  const total = threads.reduce((sum, t) => sum + t.cpu, 0);
  const parts = threads
    .filter((t) => t.cpu >= 0.01)
    .map((t) => `${t.comm}/${t.tid} ${(t.cpu * 100).toFixed(0)}% ${t.switchesPerSec.toFixed(0)} cs/s`);
  let line = `    cpu ${label}: total ${(total * 100).toFixed(0)}% · ${parts.join(' · ')}`;
  if (opsPerSec !== undefined && opsPerSec > 0) {
    const byName = new Map<string, number>();
    for (const t of threads) {
      const name = t.tid === String(pid) ? `${t.comm} (main)` : t.comm;
      byName.set(name, (byName.get(name) ?? 0) + t.cpu);
    }
    const perOp = (cpu: number): string => ((cpu / opsPerSec) * 1e6).toFixed(1);
    const names = [...byName]
      .filter(([, cpu]) => perOp(cpu) !== '0.0') // an idle main thread (the C floor's) says nothing
      .sort((a, b) => b[1] - a[1])
      .map(([name, cpu]) => `${name} ${perOp(cpu)}`);
    line += ` · per op ${perOp(total)} µs CPU (${names.join(', ')})`;
  }
  return line;
}

/**
 * Starts sampling a server's threads; the returned function prints (describeThreadCpu) each
 * thread's share of one core and context switches over the interval, and with the run's ops/s
 * the CPU per op.
 */
export async function cpuSampler(pid: number, label: string): Promise<(opsPerSec?: number) => Promise<void>> {
  const t0 = performance.now();
  const before = await sampleThreads(pid);
  return async (opsPerSec?: number) => {
    const seconds = (performance.now() - t0) / 1000;
    const after = await sampleThreads(pid);
    const hz = 100; // USER_HZ
    const threads: ThreadUse[] = [];
    for (const [tid, a] of after) {
      const b = before.get(tid);
      threads.push({
        tid,
        comm: a.comm,
        cpu: (a.ticks - (b?.ticks ?? 0)) / hz / seconds,
        switchesPerSec: (a.switches - (b?.switches ?? 0)) / seconds,
      });
    }
    process.stderr.write(describeThreadCpu(label, pid, threads, opsPerSec) + '\n');
  };
}
