// Knobs of the pald suite (test/bench/suites/pald.ts), for measuring one case in the same minutes
// as the floor, from the environment (defaults: the full suite, as `npm run bench` runs it):
//   BENCH_PALD_WARM_ONLY=1      only tmpfs, the floor and the fast-path rows (no fast-off, metrics or
//                               cold rows, no cold containers): a minute instead of several
//   BENCH_PALD_CLIENTS=8        client counts (comma-separated; default 1,8)
//   BENCH_PALD_FAST_ENV='A=1 B=2|A=0'   one fast-path pald per `|`-separated set of extra
//                               environment variables (e.g. PAL_FUSE_THREADS=2), each with its own
//                               container; default one pald with none
//   BENCH_PALD_ROUNDS=3         measure the floor and every fast-path pald this many times, round
//                               by round (A/B alternated within the same minutes)
//   BENCH_PALD_CPU=1            print each measured server's CPU per thread (utime+stime from
//                               /proc/<pid>/task/*/stat) and its context switches to stderr
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

/**
 * Starts sampling a server's threads; the returned function prints, per thread that used CPU,
 * its share of one core and its context switches per second over the interval.
 */
export async function cpuSampler(pid: number, label: string): Promise<() => Promise<void>> {
  const t0 = performance.now();
  const before = await sampleThreads(pid);
  return async () => {
    const seconds = (performance.now() - t0) / 1000;
    const after = await sampleThreads(pid);
    const hz = 100; // USER_HZ
    const parts: string[] = [];
    let total = 0;
    for (const [tid, a] of after) {
      const b = before.get(tid);
      const cpu = (a.ticks - (b?.ticks ?? 0)) / hz / seconds;
      total += cpu;
      if (cpu >= 0.01)
        parts.push(
          `${a.comm}/${tid} ${(cpu * 100).toFixed(0)}% ${((a.switches - (b?.switches ?? 0)) / seconds).toFixed(0)} cs/s`,
        );
    }
    process.stderr.write(`    cpu ${label}: total ${(total * 100).toFixed(0)}% · ${parts.join(' · ')}\n`);
  };
}
