// What a fuzz target is, and what counts as a finding.
//
// The contract every parser of hostile input must keep (SPEC, issues 12 and 21): for any input it
// returns a valid value, or throws/returns an error with a reason. Anything else is a finding:
// a non-Error throw, an error class that is not ours (TypeError, RangeError, a library's error
// escaping), an error without a message, a value that is not valid, a hang, a crash of the
// process, an unhandled rejection or uncaught exception, a promise that never settles.
import type fc from 'fast-check';

/** 'unit' shapes are scaled down for `npm test`; 'full' ones are the sizes of issue 21. */
export type Scale = 'unit' | 'full';

/** A hand-made hostile input, run before the generated ones (issue 21's shapes live here). */
export interface Shape<I> {
  readonly name: string;
  readonly input: I;
}

export interface TargetContext {
  /** A private directory for this run (removed by the parent when the run ends). */
  readonly workDir: string;
  readonly scale: Scale;
}

/** An Error constructor a parser may throw by contract (one of ours). */

export type ErrorClass = abstract new (...args: any[]) => Error;

export interface FuzzTarget<I, C = unknown> {
  readonly name: string;
  /** The functions under test, for the report. */
  readonly covers: string;
  /** Error classes the parser throws by contract; anything else thrown is a finding. */
  readonly accepts: readonly ErrorClass[];
  /**
   * A plain `Error` thrown by our own code (first stack frame inside src/) is a reason too. For
   * parsers whose contract is `throw new Error(reason)` (payload, manifest editor).
   */
  readonly plainErrorsFromSrc?: boolean;
  /** Per-input budget for a promise to settle (async targets), ms. */
  readonly settleMs?: number;
  setup?(ctx: TargetContext): Promise<C>;
  teardown?(state: C): Promise<void>;
  shapes(scale: Scale, state: C): ReadonlyArray<Shape<I>>;
  arbitrary(state: C, scale: Scale): fc.Arbitrary<I>;
  /**
   * Feed one input to the parser(s) and check what came back. Returns why the value returned
   * is invalid, or undefined. Whatever the parser throws is left to propagate.
   */
  check(input: I, state: C): string | undefined | Promise<string | undefined>;
  /** The input as text for a reproducer: a JS expression that rebuilds it. */
  show(input: I): string;
}

export type FindingKind =
  | 'throw' // an error that is not a reason (wrong class, no message, not an Error)
  | 'invalid' // a value came back that is not valid
  | 'never-settled' // a promise neither resolved nor rejected within the budget
  | 'unhandled-rejection'
  | 'uncaught-exception'
  | 'slow' // finished, but over the per-input time budget
  | 'hang' // did not finish at all: the child was killed
  | 'crash'; // the process died (abort, out of memory, exit)

export interface Finding {
  readonly target: string;
  readonly kind: FindingKind;
  /** Groups the same defect reached through different inputs. */
  readonly signature: string;
  readonly detail: string;
  /** Index of the input in the run (shapes first) and the shape's name when it was one. */
  readonly index: number;
  readonly shape?: string;
  /** show(input), when known. */
  readonly input?: string;
}

const BUILTIN_ERRORS: ReadonlyArray<new () => Error> = [
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  URIError,
  EvalError,
];

/** The first stack frame, shortened to a stable "function (file:line)". */
export function topFrame(err: Error): string {
  const frames = (err.stack ?? '').split('\n').filter((l) => l.trimStart().startsWith('at '));
  // Skip builtins (`at hasOwnProperty (<anonymous>)`, `at JSON.parse`): name the code that called them.
  const line = frames.find((l) => /\/(dist|node_modules)\//.test(l)) ?? frames[0];
  if (line === undefined) return '?';
  return line
    .trim()
    .replace(/^at /, '')
    .replace(/(?:file:\/\/)?\/[^\s()]*?\/(dist|node_modules)\//, '$1/')
    .replace(/:(\d+):\d+(\)?)$/, ':$1$2');
}

function inOurSource(err: Error): boolean {
  return /\bdist\/src\//.test(topFrame(err));
}

/** Same message shape → same signature: numbers and quoted text vary per input. */
export function normalise(message: string): string {
  return (
    message
      .split('\n')[0]!
      .slice(0, 200)
      .replace(/"(?:[^"\\]|\\.)*"/g, '"…"')
      .replace(/'(?:[^'\\]|\\.)*'/g, "'…'")
      .replace(/\d+/g, 'N')
      // A trailing single token is usually the offending input ("…alias): a-N:"): one signature for all.
      .replace(/: \S+$/, ': …')
  );
}

/** undefined when `err` is a proper reason under the target's contract, else what is wrong. */
export function classifyThrown(
  err: unknown,
  target: Pick<FuzzTarget<unknown>, 'accepts' | 'plainErrorsFromSrc'>,
): { signature: string; detail: string } | undefined {
  if (!(err instanceof Error)) {
    const what = err === null ? 'null' : typeof err;
    return { signature: `non-Error thrown (${what})`, detail: `threw a ${what}: ${String(err).slice(0, 200)}` };
  }
  const frame = topFrame(err);
  const builtin = BUILTIN_ERRORS.find((c) => err.constructor === c);
  if (builtin !== undefined) {
    return {
      signature: `${builtin.name} at ${frame}: ${normalise(err.message)}`,
      detail: `${builtin.name}: ${err.message.slice(0, 500)}\n${(err.stack ?? '').split('\n').slice(1, 8).join('\n')}`,
    };
  }
  const ours =
    target.accepts.some((c) => err instanceof c) ||
    (target.plainErrorsFromSrc === true && err.constructor === Error && inOurSource(err));
  if (!ours) {
    return {
      signature: `foreign ${err.constructor.name} at ${frame}: ${normalise(err.message)}`,
      detail: `${err.constructor.name} (not one of our error classes): ${err.message.slice(0, 500)}\n${(err.stack ?? '').split('\n').slice(1, 8).join('\n')}`,
    };
  }
  const message = err.message.trim();
  if (message === '' || message === 'undefined' || message === 'null' || message === '[object Object]') {
    return {
      signature: `${err.constructor.name} without a reason at ${frame}`,
      detail: `message: ${JSON.stringify(err.message)}`,
    };
  }
  return undefined;
}

/**
 * Time spent inside the parser for the current input. Targets wrap the parser call in timed() so
 * the 'slow' budget measures the parser, not the harness's own checks of what it returned.
 */
export const parserClock = { ms: 0, used: false };

export function timed<T>(fn: () => T): T {
  const started = performance.now();
  parserClock.used = true;
  try {
    const out = fn();
    if (out instanceof Promise) {
      return out.finally(() => {
        parserClock.ms += performance.now() - started;
      }) as T;
    }
    parserClock.ms += performance.now() - started;
    return out;
  } catch (err) {
    parserClock.ms += performance.now() - started;
    throw err;
  }
}
