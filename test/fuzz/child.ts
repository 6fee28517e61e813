// One fuzz target in its own process. The parent (runner.ts) watches it: before each input the
// input is written to a progress file, so when this process hangs or dies the parent knows
// exactly which input did it. Findings are appended to a JSONL file as they happen.
import { appendFileSync, ftruncateSync, openSync, writeFileSync, writeSync } from 'node:fs';
import fc from 'fast-check';
import {
  classifyThrown,
  normalise,
  parserClock,
  type Finding,
  type FindingKind,
  type FuzzTarget,
  type Scale,
  type Shape,
} from './target.js';
import { loadTarget } from './targets/index.js';

export interface ChildConfig {
  readonly target: string;
  readonly seed: number;
  /** Generated inputs after the shapes. */
  readonly runs: number;
  /** First input index to run (shapes first, then generated ones); earlier ones ran in a previous child. */
  readonly start: number;
  readonly scale: Scale;
  /** A finished input slower than this is a finding (0: never). */
  readonly slowMs: number;
  /** Budget for an async check to settle. */
  readonly settleMs: number;
  /** Epoch ms after which no new input is started. */
  readonly deadline: number;
  readonly workDir: string;
  readonly progressFile: string;
  readonly findingsFile: string;
  readonly summaryFile: string;
}

export interface ChildProgress {
  readonly index: number;
  readonly shape?: string;
  readonly startedAt: number;
  readonly phase: 'setup' | 'input' | 'teardown';
}

export interface ChildSummary {
  /** Index of the next input that was not run. */
  readonly next: number;
  readonly total: number;
  readonly shapes: number;
  readonly covers: string;
}

/** Generated inputs come in batches drawn from one seed each, so input k can be regenerated alone. */
const BATCH = 64;

const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const progressFd = openSync(config.progressFile, 'w');
let current: { index: number; shape?: string; shown: string } = { index: -1, shown: '' };
const seen = new Map<string, number>(); // signature → length of the shortest input written

function progress(p: ChildProgress, shown: string): void {
  const text = `${JSON.stringify(p)}\n${shown}`;
  const bytes = Buffer.from(text, 'utf8');
  writeSync(progressFd, bytes, 0, bytes.length, 0);
  ftruncateSync(progressFd, bytes.length);
}

function record(kind: FindingKind, signature: string, detail: string): void {
  const best = seen.get(signature);
  const withInput = best === undefined || current.shown.length < best;
  if (withInput) seen.set(signature, current.shown.length);
  const finding: Omit<Finding, 'target'> = {
    kind,
    signature,
    detail: withInput ? detail : '',
    index: current.index,
    ...(current.shape === undefined ? {} : { shape: current.shape }),
    ...(withInput ? { input: current.shown } : {}),
  };
  appendFileSync(config.findingsFile, JSON.stringify(finding) + '\n');
}

process.on('unhandledRejection', (reason) => {
  const e = reason instanceof Error ? reason : new Error(String(reason));
  record(
    'unhandled-rejection',
    `unhandled rejection: ${e.constructor.name}: ${e.message.split('\n')[0]!.slice(0, 120)}`,
    `${e.stack ?? e.message}\n(raised while input ${current.index} was current: it or an earlier input caused it)`,
  );
});
process.on('uncaughtException', (err) => {
  record(
    'uncaught-exception',
    `uncaught exception: ${err.constructor.name}: ${err.message.split('\n')[0]!.slice(0, 120)}`,
    `${err.stack ?? err.message}\n(raised while input ${current.index} was current: it or an earlier input caused it)`,
  );
});

const NEVER = Symbol('never settled');

async function runOne<I, C>(target: FuzzTarget<I, C>, state: C, input: I): Promise<void> {
  const started = performance.now();
  parserClock.ms = 0;
  parserClock.used = false;
  let outcome: string | undefined | typeof NEVER;
  try {
    const result = target.check(input, state);
    if (result instanceof Promise) {
      let timer: NodeJS.Timeout | undefined;
      const never = new Promise<typeof NEVER>(
        (resolve) => (timer = setTimeout(() => resolve(NEVER), target.settleMs ?? config.settleMs)),
      );
      try {
        outcome = await Promise.race([result, never]);
      } finally {
        clearTimeout(timer);
      }
    } else {
      outcome = result;
    }
  } catch (err) {
    const bad = classifyThrown(err, target);
    if (bad !== undefined) record('throw', bad.signature, bad.detail);
    outcome = undefined;
  }
  if (outcome === NEVER) {
    record(
      'never-settled',
      'promise never settled',
      `neither resolved nor rejected within ${target.settleMs ?? config.settleMs} ms`,
    );
  } else if (outcome !== undefined) {
    record('invalid', `invalid value: ${normalise(outcome)}`, outcome);
  }
  const ms = parserClock.used ? parserClock.ms : performance.now() - started;
  if (config.slowMs > 0 && ms > config.slowMs && outcome !== NEVER) {
    record(
      'slow',
      `slow: ${current.shape ?? 'a generated input'}`,
      `took ${Math.round(ms)} ms in the parser (budget ${config.slowMs} ms), input of ${current.shown.length} characters`,
    );
  }
}

async function main(): Promise<void> {
  progress({ index: -1, startedAt: Date.now(), phase: 'setup' }, '');
  const target = (await loadTarget(config.target)) as FuzzTarget<unknown, unknown>;
  const state = await target.setup?.({ workDir: config.workDir, scale: config.scale });
  const shapes: ReadonlyArray<Shape<unknown>> = target.shapes(config.scale, state);
  const total = shapes.length + config.runs;
  const arbitrary = target.arbitrary(state, config.scale);
  const isAsync = target.settleMs !== undefined;
  let batchIndex = -1;
  let batch: unknown[] = [];
  let index = config.start;
  for (; index < total; index++) {
    if (Date.now() > config.deadline) break;
    let input: unknown;
    let shape: string | undefined;
    if (index < shapes.length) {
      input = shapes[index]!.input;
      shape = shapes[index]!.name;
    } else {
      const k = index - shapes.length;
      const b = Math.floor(k / BATCH);
      if (b !== batchIndex) {
        batchIndex = b;
        batch = fc.sample(arbitrary, { seed: (config.seed + b * 0x9e3779b1) | 0, numRuns: BATCH });
      }
      input = batch[k % BATCH];
    }
    current = { index, ...(shape === undefined ? {} : { shape }), shown: target.show(input) };
    progress(
      { index, ...(shape === undefined ? {} : { shape }), startedAt: Date.now(), phase: 'input' },
      current.shown,
    );
    await runOne(target, state, input);
    // Let timers, I/O and rejection tracking run: every input for async targets, now and then for sync ones.
    if (isAsync || index % 256 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  current = { index, shown: '' };
  progress({ index, startedAt: Date.now(), phase: 'teardown' }, '');
  await target.teardown?.(state);
  const summary: ChildSummary = { next: index, total, shapes: shapes.length, covers: target.covers };
  writeFileSync(config.summaryFile, JSON.stringify(summary));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `fuzz child ${config.target} failed outside any input: ${err instanceof Error ? err.stack : String(err)}\n`,
    );
    process.exit(70);
  },
);
