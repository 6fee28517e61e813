// `npm run bench`: builds the C client, runs every suite in dist/test/bench/suites/ (or those
// named on the command line), and prints one table: ops/s, p50, p99 and the ratio to the floor
// of the same suite and client count (floor ops/s ÷ case ops/s: how many times slower).
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

import { describeCpuSplit, readCpuTimes } from './cpu-split.js';
import {
  compileC,
  failureReason,
  startServer,
  stopServer,
  type BenchContext,
  type BenchRow,
  type BenchSuiteModule,
  type ClientResult,
} from './harness.js';
import { watchInterrupts } from './interrupt.js';

const execFileAsync = promisify(execFile);
const here = fileURLToPath(new URL('.', import.meta.url)); // dist/test/bench/
const root = join(here, '..', '..', '..');
const src = join(root, 'test', 'bench');

function format(reported: readonly BenchRow[]): string {
  // One block per suite, in the order suites first reported (a suite may report rows late).
  const order = [...new Set(reported.map((r) => r.suite))];
  const rows = order.flatMap((suite) => reported.filter((r) => r.suite === suite));
  const floorOf = (r: BenchRow): BenchRow | undefined =>
    rows.find((f) => f.floor && f.suite === r.suite && f.clients === r.clients && f.group === r.group && f.opsPerSec);
  const head = ['suite', 'case', 'clients', 'ops/s', 'p50 µs', 'p99 µs', '× floor'];
  const body = rows.map((r) => {
    if (r.unavailable) return [r.suite, r.name, String(r.clients), `unavailable: ${r.unavailable}`, '', '', ''];
    const f = floorOf(r);
    const ratio =
      r.ratioToFloor !== undefined
        ? `${r.ratioToFloor.toFixed(2)} r`
        : f && r.opsPerSec
          ? (f.opsPerSec! / r.opsPerSec).toFixed(2)
          : '';
    const errs = r.errors ? ` (${r.errors} errors!)` : '';
    return [
      r.suite,
      r.name + errs,
      String(r.clients),
      r.opsPerSec?.toFixed(0) ?? '',
      r.p50Us?.toFixed(1) ?? '',
      r.p99Us?.toFixed(1) ?? '',
      ratio,
    ];
  });
  const widths = head.map((h, i) =>
    Math.max(h.length, ...body.map((b) => (b[i]!.startsWith('unavailable') ? 0 : b[i]!.length))),
  );
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i >= 2 && !c.startsWith('unavailable') ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** A row a suite returned instead of reporting: accept p50us/p99us spellings and a note. */
function normalise(suite: string, raw: unknown): BenchRow {
  const r = raw as Record<string, unknown>;
  const num = (...keys: string[]): number | undefined => {
    for (const k of keys) if (typeof r[k] === 'number') return r[k];
    return undefined;
  };
  const note = typeof r.note === 'string' && r.note ? ` (${r.note})` : '';
  return {
    suite: typeof r.suite === 'string' ? r.suite : suite,
    name: `${typeof r.name === 'string' ? r.name : '?'}${note}`,
    clients: num('clients') ?? 1,
    opsPerSec: num('opsPerSec'),
    p50Us: num('p50Us', 'p50us'),
    p99Us: num('p99Us', 'p99us'),
    errors: num('errors'),
    floor: r.floor === true,
    group: typeof r.group === 'string' ? r.group : undefined,
    unavailable: typeof r.unavailable === 'string' ? r.unavailable : undefined,
  };
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const seconds = Number(process.env.BENCH_SECONDS ?? 3);
  const tmp = await mkdtemp(join(tmpdir(), 'pal-bench-'));
  const rows: BenchRow[] = [];
  const began = Date.now();
  const load = (): string =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  const loadAtStart = load();
  const cpuAtStart = await readCpuTimes();
  const timings: string[] = [];
  const interrupts = watchInterrupts();
  const { signal } = interrupts;
  try {
    const clientBin = await compileC(join(tmp, 'client'), [join(src, 'client.c')], ['-lpthread']);
    const suiteDir = join(here, 'suites');
    const files = (await readdir(suiteDir)).filter((f) => f.endsWith('.js')).sort();
    const names = files.map((f) => f.replace(/\.js$/, '')).filter((n) => !only.length || only.includes(n));
    const ctx: BenchContext = {
      suites: names,
      seconds,
      warmupMs: 300,
      tmp,
      root,
      report: (row) => {
        rows.push(row);
        const what = row.unavailable
          ? `unavailable (${row.unavailable})`
          : row.opsPerSec === undefined
            ? 'noted'
            : `${row.opsPerSec.toFixed(0)} ops/s, p50 ${row.p50Us?.toFixed(1)} µs`;
        process.stderr.write(`  ${row.suite} · ${row.name} · ${row.clients} client(s): ${what}\n`);
      },
      compile: (name, sources, flags = []) => compileC(join(tmp, name), sources, flags),
      rounds: Math.max(1, Number(process.env.BENCH_ROUNDS ?? 5)),
      signal,
      async runClient(path, clients, expectBytes, opts = {}): Promise<ClientResult> {
        const ms = Math.round((opts.seconds ?? seconds) * 1000);
        const { stdout } = await execFileAsync(
          clientBin,
          [path, String(clients), String(ms), String(opts.warmupMs ?? 300), String(expectBytes)],
          { signal },
        );
        const r = JSON.parse(stdout) as {
          ops: number;
          seconds: number;
          p50_ns: number;
          p99_ns: number;
          errors: number;
        };
        return { ops: r.ops, seconds: r.seconds, p50Us: r.p50_ns / 1000, p99Us: r.p99_ns / 1000, errors: r.errors };
      },
      startServer: (cmd, args) => startServer(cmd, args),
      stopServer: (child) => stopServer(child),
    };
    for (const file of files) {
      const name = file.replace(/\.js$/, '');
      if (only.length && !only.includes(name)) continue;
      if (signal.aborted) break;
      process.stderr.write(`suite ${name}\n`);
      const suiteBegan = Date.now();
      const mod = (await import(pathToFileURL(join(suiteDir, file)).href)) as Partial<BenchSuiteModule>;
      if (typeof mod.run !== 'function') {
        rows.push({ suite: name, name: '(module exports no run())', clients: 0, unavailable: 'not a suite' });
        continue;
      }
      try {
        const returned = await mod.run(ctx);
        if (Array.isArray(returned)) for (const row of returned) ctx.report(normalise(name, row));
      } catch (err) {
        rows.push({
          suite: name,
          name: '(suite failed)',
          clients: 0,
          unavailable: failureReason(err, signal),
        });
      }
      timings.push(`${name} ${((Date.now() - suiteBegan) / 1000).toFixed(0)} s`);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  }
  interrupts.dispose();
  process.stdout.write(
    `\nload average (1/5/15 min): ${loadAtStart} at start, ${load()} at end; ${cpus().length} CPUs; ` +
      `total ${((Date.now() - began) / 1000).toFixed(0)} s (${timings.join(', ')})\n`,
  );
  const split = describeCpuSplit(cpuAtStart, await readCpuTimes());
  // Steal is the hypervisor running someone else on our CPUs: the floor and pald lose it alike
  // only when it is steady, so a table taken with much of it stolen is noisier than its load says.
  if (split) process.stdout.write(`CPU time over the run (all CPUs, /proc/stat): ${split}\n`);
  process.stdout.write(
    `${seconds} s per case (suites may split it into interleaved rounds and report medians); × floor = floor ops/s ÷ case ops/s (same suite, same clients); "r": the median of per-round ratios, each round of the case paired with the floor's round just before it\n\n`,
  );
  process.stdout.write(format(rows) + '\n');
  const interrupted = interrupts.exitCode();
  if (interrupted !== undefined) {
    // Every suite that ran has cleaned up by now; the rows it reported (or its reason) are above.
    process.stdout.write(`\n${failureReason(undefined, signal)}: partial results\n`);
    process.exitCode = interrupted;
  }
}

await main();
