// Runs one fuzz target in child processes and collects what they found. A child that hangs past
// the budget is killed, one that dies is noted with its last input; either way the run goes on
// in a fresh child from the next input, so one defect never hides the rest.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildConfig, ChildProgress, ChildSummary } from './child.js';
import { knownPendingFor, type KnownPending } from './known-pending.js';
import { normalise, type Finding, type FindingKind, type Scale } from './target.js';

export interface RunOptions {
  /** Generated inputs (the target's hand-made shapes run in addition). */
  readonly runs: number;
  readonly seed: number;
  readonly scale: Scale;
  /** An input still running after this long is a hang: the child is killed. */
  readonly hangMs: number;
  /** An input that finished after this long is a 'slow' finding (0: off). */
  readonly slowMs: number;
  /** Budget for an async parser's promise to settle. */
  readonly settleMs: number;
  /** Wall-clock cap for the whole target; inputs not started by then are not run. */
  readonly timeLimitMs: number;
  /** At most this many child restarts (crashes and hangs) per target. */
  readonly maxRestarts?: number;
}

export interface FindingGroup {
  readonly target: string;
  readonly kind: FindingKind;
  readonly signature: string;
  count: number;
  detail: string;
  /** The shortest input seen with this signature. */
  example: { index: number; shape?: string; input?: string };
  /** Names of the hand-made shapes that hit it (at most 20). */
  readonly shapes: string[];
  /** Set when the finding is a known defect whose fix is on another branch. */
  known?: KnownPending;
}

export interface TargetResult {
  readonly target: string;
  readonly covers: string;
  readonly seed: number;
  /** Inputs run (shapes + generated). */
  readonly inputs: number;
  readonly shapes: number;
  /** Inputs that should have run. */
  readonly planned: number;
  readonly ms: number;
  readonly children: number;
  /** The time limit stopped the target before all inputs ran. */
  readonly timedOut: boolean;
  readonly findings: FindingGroup[];
}

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'child.js');

function readProgress(file: string): { progress: ChildProgress; input: string } | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const nl = text.indexOf('\n');
  if (nl < 0) return undefined;
  try {
    return { progress: JSON.parse(text.slice(0, nl)) as ChildProgress, input: text.slice(nl + 1) };
  } catch {
    return undefined;
  }
}

/** Only the head of the progress file, cheaply, for the watchdog. */
function readProgressHead(file: string): ChildProgress | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(1024);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const text = buf.toString('utf8', 0, n);
    const nl = text.indexOf('\n');
    return nl < 0 ? undefined : (JSON.parse(text.slice(0, nl)) as ChildProgress);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly hung: boolean;
  readonly stderr: string;
}

/** Children still running: killed (by pid) if this process exits first, e.g. on a test timeout. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function runChild(config: ChildConfig, hangMs: number): Promise<ChildExit> {
  // cwd in the child's own temp dir: a core dump from an abort lands there and is removed with it.
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--max-old-space-size=1024', CHILD, JSON.stringify(config)], {
      cwd: config.workDir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    live.add(child);
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      stderr = (stderr + d).slice(-8192);
    });
    let hung = false;
    const watchdog = setInterval(
      () => {
        const p = readProgressHead(config.progressFile);
        if (
          p !== undefined &&
          Date.now() - p.startedAt > hangMs &&
          child.exitCode === null &&
          child.signalCode === null
        ) {
          hung = true;
          child.kill('SIGKILL');
        }
      },
      Math.min(250, Math.max(20, hangMs / 4)),
    );
    child.on('error', (err) => {
      live.delete(child);
      clearInterval(watchdog);
      reject(err);
    });
    child.on('close', (code, signal) => {
      live.delete(child);
      clearInterval(watchdog);
      resolve({ code, signal, hung, stderr });
    });
  });
}

/** The line of a dead child's stderr that says why it died. */
function deathReason(exit: ChildExit): string {
  const lines = exit.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const telling =
    lines.find((l) => /FATAL ERROR|out of memory|Maximum call stack|Error:|Abort/i.test(l)) ??
    lines[lines.length - 1] ??
    '';
  const how = exit.signal !== null ? exit.signal : `exit ${exit.code}`;
  return `${how}${telling === '' ? '' : `: ${telling}`}`;
}

export async function runTarget(target: string, options: RunOptions): Promise<TargetResult> {
  const began = Date.now();
  const deadline = began + options.timeLimitMs;
  const dir = mkdtempSync(path.join(tmpdir(), `pal-fuzz-${target}-`));
  const findingsFile = path.join(dir, 'findings.jsonl');
  const groups = new Map<string, FindingGroup>();
  let start = 0;
  let children = 0;
  let summary: ChildSummary | undefined;
  let total: number | undefined;
  let shapes = 0;
  let covers = '';
  let lastIndex = 0;
  const extra: Finding[] = [];
  try {
    for (;;) {
      children++;
      const workDir = mkdtempSync(path.join(dir, 'work-'));
      const summaryFile = path.join(dir, `summary-${children}.json`);
      const progressFile = path.join(dir, `progress-${children}`);
      const config: ChildConfig = {
        target,
        seed: options.seed,
        runs: options.runs,
        start,
        scale: options.scale,
        slowMs: options.slowMs,
        settleMs: options.settleMs,
        deadline,
        workDir,
        progressFile,
        findingsFile,
        summaryFile,
      };
      const exit = await runChild(config, options.hangMs);
      rmSync(workDir, { recursive: true, force: true });
      if (existsSync(summaryFile)) {
        summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as ChildSummary;
        total = summary.total;
        shapes = summary.shapes;
        covers = summary.covers;
        lastIndex = summary.next;
        break;
      }
      // The child hung or died: its progress file names the input it was on.
      const last = readProgress(progressFile);
      const index = last?.progress.index ?? -1;
      const shape = last?.progress.shape;
      if (last === undefined || last.progress.phase !== 'input') {
        throw new Error(
          `fuzz target ${target}: child failed in ${last?.progress.phase ?? 'startup'} (${deathReason(exit)})\n${exit.stderr}`,
        );
      }
      const kind: FindingKind = exit.hung ? 'hang' : 'crash';
      const signature = exit.hung ? `hang: ${shape ?? 'a generated input'}` : `crash: ${normalise(deathReason(exit))}`;
      extra.push({
        target,
        kind,
        signature,
        index,
        detail: exit.hung
          ? `still running after ${options.hangMs} ms: killed`
          : `the process died: ${deathReason(exit)}\n${exit.stderr.slice(-2000)}`,
        ...(shape === undefined ? {} : { shape }),
        input: last.input,
      });
      lastIndex = index + 1;
      start = index + 1;
      if (Date.now() > deadline || children > (options.maxRestarts ?? 100)) break;
    }
    const findings: Finding[] = [...extra];
    if (existsSync(findingsFile)) {
      for (const line of readFileSync(findingsFile, 'utf8').split('\n')) {
        if (line !== '') findings.push({ target, ...(JSON.parse(line) as Omit<Finding, 'target'>) });
      }
    }
    for (const f of findings) {
      let g = groups.get(f.signature);
      if (g === undefined) {
        g = {
          target,
          kind: f.kind,
          signature: f.signature,
          count: 0,
          detail: f.detail,
          example: { index: f.index },
          shapes: [],
        };
        const known = knownPendingFor(target, f.signature);
        if (known !== undefined) g.known = known;
        groups.set(f.signature, g);
      }
      g.count++;
      if (f.shape !== undefined && !g.shapes.includes(f.shape) && g.shapes.length < 20) g.shapes.push(f.shape);
      if (f.input !== undefined && (g.example.input === undefined || f.input.length < g.example.input.length)) {
        g.example = { index: f.index, ...(f.shape === undefined ? {} : { shape: f.shape }), input: f.input };
        if (f.detail !== '') g.detail = f.detail;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const planned = total ?? lastIndex;
  return {
    target,
    covers,
    seed: options.seed,
    inputs: lastIndex,
    shapes,
    planned,
    ms: Date.now() - began,
    children,
    timedOut: lastIndex < planned || (summary === undefined && Date.now() > deadline),
    findings: [...groups.values()],
  };
}
