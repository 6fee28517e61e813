// The benchmark harness's contract. A suite is a module in test/bench/suites/ exporting
// `run(ctx: BenchContext): Promise<void>` (and optionally `title`); it measures cases and
// calls ctx.report() once per row. run.ts discovers suites and prints one table.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface BenchRow {
  /** Suite that measured it, e.g. "fuse". */
  readonly suite: string;
  /** What was measured, e.g. "C floor (pal settings)". */
  readonly name: string;
  /** Concurrent clients. */
  readonly clients: number;
  readonly opsPerSec?: number | undefined;
  readonly p50Us?: number | undefined;
  readonly p99Us?: number | undefined;
  /** Operations whose result was wrong (must be 0 for the row to mean anything). */
  readonly errors?: number | undefined;
  /** The reference other rows of the same suite, client count and group are compared with. */
  readonly floor?: boolean | undefined;
  /**
   * Rows measured against a floor of their own (e.g. "cold": first opens, against the C floor's
   * first opens in the same minutes), not the suite's warm floor. Absent: the suite's floor.
   */
  readonly group?: string | undefined;
  /**
   * The × floor a suite measured itself, when it pairs each round of the case with a floor round
   * run just before it: the median of those per-round ratios (floor ops/s ÷ case ops/s). Absent:
   * the floor row's ops/s ÷ this row's.
   */
  readonly ratioToFloor?: number | undefined;
  /** Set when the case could not run: the reason, shown instead of numbers. */
  readonly unavailable?: string | undefined;
}

export interface ClientResult {
  readonly ops: number;
  readonly seconds: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly errors: number;
}

export interface BenchContext {
  /** Measured seconds per case (BENCH_SECONDS, default 3). */
  readonly seconds: number;
  readonly warmupMs: number;
  /** A scratch directory for this run, removed afterwards. */
  readonly tmp: string;
  /** Repository root. */
  readonly root: string;
  report(row: BenchRow): void;
  /** Compiles C sources with gcc into an executable; returns its path. */
  compile(name: string, sources: readonly string[], flags?: readonly string[]): Promise<string>;
  /**
   * Runs the C client (test/bench/client.c): `clients` threads doing open+read+close of `path`
   * for ctx.seconds, each read expected to return `expectBytes`.
   */
  runClient(
    path: string,
    clients: number,
    expectBytes: number,
    opts?: { seconds?: number; warmupMs?: number },
  ): Promise<ClientResult>;
  /** The suites this run includes (a suite may leave rows to another one that measures them anyway). */
  readonly suites: readonly string[];
  /** Rounds a suite may split each case into, interleaving cases (BENCH_ROUNDS, default 5). */
  readonly rounds: number;
  /**
   * Aborted when the run is interrupted (SIGINT, SIGTERM, SIGHUP: interrupt.ts). runClient then
   * rejects; a suite passes it to its own long child processes and checks it in its loops
   * (`throwIfAborted`), so that it stops measuring and its `finally` takes down what it started.
   */
  readonly signal: AbortSignal;
  /** Starts a server process and resolves once it printed a line containing "ready". */
  startServer(cmd: string, args: readonly string[]): Promise<ChildProcess>;
  /** SIGTERM, then SIGKILL after a grace period; resolves when it exited. */
  stopServer(child: ChildProcess): Promise<void>;
}

/**
 * A suite module. run() reports rows through ctx.report(); it may instead (or also) return rows,
 * which the harness reports for it (p50us/p99us spellings and a `note` are accepted).
 */
export interface BenchSuiteModule {
  readonly title?: string;
  run(ctx: BenchContext): Promise<void | readonly unknown[]>;
}

/**
 * Why a suite or case stopped: the interrupt once the run's signal is aborted (a client killed by
 * the same signal fails in its own words first, e.g. with empty output), else the error itself.
 */
export function failureReason(err: unknown, signal: AbortSignal): string {
  const why: unknown = signal.aborted ? signal.reason : err;
  return why instanceof Error ? why.message : String(why);
}

export async function compileC(out: string, sources: readonly string[], flags: readonly string[]): Promise<string> {
  await execFileAsync('gcc', ['-O2', '-Wall', '-o', out, ...sources, ...flags]);
  return out;
}

/** The median of `values` (the mean of the middle two for an even count): a row's figure from its rounds. */
export function median(values: readonly number[]): number {
  const v = [...values].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
}

/** The nearest-rank `p`th percentile of `sorted` (ascending): a cold row's p50/p99 from its samples; NaN for none. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** The first and third quartiles of `values`: the medians of its lower and upper halves (the middle value of an odd count in neither). */
export function quartiles(values: readonly number[]): [number, number] {
  const v = [...values].sort((a, b) => a - b);
  const half = Math.floor(v.length / 2);
  if (v.length < 2) return [v[0] ?? NaN, v[0] ?? NaN];
  return [median(v.slice(0, half)), median(v.slice(v.length - half))];
}

/**
 * The median of per-round ratios `floor[i] / other[i]` (ops/s: how many times slower `other` is),
 * each round of `other` paired with the floor's round run just before it; undefined unless both
 * have the same, non-zero number of rounds with throughput.
 */
export function pairedRatio(floor: readonly number[], other: readonly number[]): number | undefined {
  if (floor.length === 0 || floor.length !== other.length || other.some((v) => !(v > 0))) return undefined;
  return median(floor.map((f, i) => f / other[i]!));
}

export function startServer(cmd: string, args: readonly string[], timeoutMs = 15_000): Promise<ChildProcess> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} not ready after ${timeoutMs} ms: ${err.trim()}`));
    }, timeoutMs);
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited ${code} before ready: ${err.trim().split('\n').slice(-3).join(' / ')}`));
    });
  });
}

export function stopServer(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
