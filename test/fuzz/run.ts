// `npm run fuzz`: every parser of hostile input, 100,000 generated inputs each (plus the
// hand-made shapes of issue 21), one target at a time, each in its own child processes.
//
//   npm run fuzz -- [--runs N] [--seed S] [--target a,b] [--time-limit SECONDS] [--hang-ms MS] [--slow-ms MS] [--jobs N]
//
// Prints inputs, findings and time per target; writes reproducers of every finding to a temp file
// it names; exits 1 when anything was found (known, pending fixes included), 0 when clean.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runTarget, type RunOptions, type TargetResult } from './runner.js';
import { TARGET_NAMES } from './targets/index.js';

interface CliOptions extends RunOptions {
  readonly targets: readonly string[];
  readonly jobs: number;
}

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: npm run fuzz -- [--runs N] [--seed S] [--target ${TARGET_NAMES.join(',')}] [--time-limit SECONDS] [--hang-ms MS] [--slow-ms MS] [--jobs N]\n`,
  );
  process.exit(2);
}

function parseArgs(argv: readonly string[]): CliOptions {
  const opts = {
    runs: 100_000,
    seed: (Date.now() ^ (process.pid << 16)) | 0,
    scale: 'full' as const,
    hangMs: 10_000,
    slowMs: 1_000,
    settleMs: 5_000,
    timeLimitMs: 600_000,
    targets: TARGET_NAMES,
    jobs: 1,
  };
  const number = (flag: string, value: string | undefined, min: number): number => {
    const n = Number(value);
    if (value === undefined || !Number.isInteger(n) || n < min) usage(`${flag} needs an integer ≥ ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    switch (flag) {
      case '--runs':
        opts.runs = number(flag, value, 0);
        i++;
        break;
      case '--seed':
        opts.seed = number(flag, value, -(2 ** 31)) | 0;
        i++;
        break;
      case '--target': {
        const names = (value ?? '').split(',').filter((n) => n !== '');
        const unknown = names.filter((n) => !TARGET_NAMES.includes(n));
        if (names.length === 0 || unknown.length > 0)
          usage(`unknown target(s): ${unknown.join(', ') || '(none given)'}`);
        opts.targets = names;
        i++;
        break;
      }
      case '--time-limit':
        opts.timeLimitMs = number(flag, value, 1) * 1000;
        i++;
        break;
      case '--hang-ms':
        opts.hangMs = number(flag, value, 100);
        i++;
        break;
      case '--slow-ms':
        opts.slowMs = number(flag, value, 0);
        i++;
        break;
      case '--jobs':
        opts.jobs = number(flag, value, 1);
        i++;
        break;
      default:
        usage(`unknown option ${flag}`);
    }
  }
  return opts;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function line(r: TargetResult): string {
  const known = r.findings.filter((f) => f.known !== undefined).length;
  const found = r.findings.length === 0 ? 'none' : `${r.findings.length} (${known} known)`;
  const note = r.timedOut ? `  [time limit: ${r.inputs}/${r.planned} run]` : '';
  return `${r.target.padEnd(15)} inputs ${String(r.inputs).padStart(7)} (${r.shapes} shapes)  findings ${found.padEnd(26)} ${seconds(r.ms).padStart(8)}${note}`;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const began = Date.now();
  process.stdout.write(
    `pal fuzz: ${opts.targets.length} targets, ${opts.runs} generated inputs each, seed ${opts.seed}, ` +
      `hang ${opts.hangMs} ms, slow ${opts.slowMs} ms, time limit ${seconds(opts.timeLimitMs)} per target, ${opts.jobs} job(s)\n`,
  );
  const results: TargetResult[] = [];
  const queue = [...opts.targets];
  const worker = async (): Promise<void> => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const r = await runTarget(name, opts);
      results.push(r);
      process.stdout.write(line(r) + '\n');
      for (const f of r.findings) {
        const where = f.example.shape !== undefined ? `shape "${f.example.shape}"` : `input #${f.example.index}`;
        const known =
          f.known === undefined
            ? ''
            : f.known.item === 'new'
              ? ' [known: new, in the fuzz report, not yet filed]'
              : ` [known: issue ${f.known.item}, fix pending]`;
        process.stdout.write(
          `    ${f.kind.padEnd(19)} ×${String(f.count).padEnd(6)} ${f.signature.slice(0, 150)}  (${where})${known}\n`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.jobs, opts.targets.length) }, worker));
  results.sort((a, b) => opts.targets.indexOf(a.target) - opts.targets.indexOf(b.target));
  const findings = results.flatMap((r) => r.findings);
  const total = results.reduce((n, r) => n + r.inputs, 0);
  process.stdout.write(
    `total: ${total} inputs, ${findings.length} distinct findings, ${seconds(Date.now() - began)}\n`,
  );
  if (findings.length > 0) {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'pal-fuzz-')), 'findings.json');
    const reproducers = findings.map((f) => ({
      target: f.target,
      covers: results.find((r) => r.target === f.target)?.covers,
      kind: f.kind,
      signature: f.signature,
      count: f.count,
      known: f.known === undefined ? undefined : `issue ${f.known.item}: ${f.known.title}`,
      shape: f.example.shape,
      index: f.example.index,
      shapes: f.shapes,
      detail: f.detail,
      /** A JS expression that rebuilds the input (shortest one seen). */
      input: f.example.input,
    }));
    writeFileSync(file, JSON.stringify({ seed: opts.seed, runs: opts.runs, findings: reproducers }, null, 2) + '\n');
    process.stdout.write(`reproducers: ${file}\n`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`fuzz: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 2;
});
