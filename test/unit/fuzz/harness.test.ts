// The fuzz harness catches every way a parser can misbehave: a target built to misbehave once in
// each way (test/fuzz/targets/selftest.ts) must have each one reported, with its input, and the
// run must go on past a hang and an abort to the inputs after them.
import test from 'ava';
import { classifyThrown, normalise, topFrame } from '../../fuzz/target.js';
import { runTarget } from '../../fuzz/runner.js';

test('every kind of misbehaviour is reported against the input that caused it, and the run goes on', async (t) => {
  const r = await runTarget('selftest', {
    runs: 20,
    seed: 1,
    scale: 'unit',
    hangMs: 1_500,
    slowMs: 100,
    settleMs: 300,
    timeLimitMs: 120_000,
  });
  const reported = (shape: string) => r.findings.filter((f) => f.shapes.includes(shape)).map((f) => f.kind);
  t.deepEqual(reported('type-error'), ['throw']);
  t.deepEqual(reported('non-error'), ['throw']);
  t.deepEqual(reported('no-message'), ['throw']);
  t.deepEqual(reported('invalid'), ['invalid']);
  t.deepEqual(reported('never-settles'), ['never-settled']);
  t.deepEqual(reported('unhandled-rejection'), ['unhandled-rejection']);
  t.deepEqual(reported('uncaught-exception'), ['uncaught-exception']);
  t.deepEqual(reported('slow'), ['slow']);
  t.deepEqual(reported('hang'), ['hang']);
  t.deepEqual(reported('abort'), ['crash']);
  // A proper reason and a valid value are not findings (a 'slow' one on a loaded machine is not checked here).
  t.deepEqual(
    [...reported('ok'), ...reported('reason')].filter((k) => k !== 'slow'),
    [],
  );
  t.false(
    r.findings.some((f) => f.kind !== 'slow' && f.shapes.length === 0),
    'generated inputs (ok/reason) are clean',
  );
  // Past the hang and the abort, fresh children ran the 20 generated inputs.
  t.is(r.inputs, r.planned);
  t.is(r.planned, 12 + 20);
  t.true(r.children >= 3);
  const crash = r.findings.find((f) => f.kind === 'crash')!;
  t.regex(crash.signature, /SIGABRT/);
  t.is(crash.example.input, '"abort"');
  t.regex(r.findings.find((f) => f.kind === 'throw' && f.shapes.includes('type-error'))!.signature, /^TypeError at /);
});

test('errors: our classes with a reason pass; built-in errors, foreign classes and empty reasons do not', (t) => {
  class Ours extends Error {}
  const contract = { accepts: [Ours], plainErrorsFromSrc: false };
  t.is(classifyThrown(new Ours('bad key'), contract), undefined);
  t.regex(classifyThrown(new TypeError('x is undefined'), contract)!.signature, /^TypeError/);
  t.regex(classifyThrown(new RangeError('Maximum call stack size exceeded'), contract)!.signature, /^RangeError/);
  class Theirs extends Error {}
  t.regex(classifyThrown(new Theirs('library error'), contract)!.signature, /^foreign Theirs/);
  t.regex(classifyThrown(new Error('plain'), contract)!.signature, /^foreign Error/);
  t.regex(classifyThrown(new Ours(''), contract)!.signature, /without a reason/);
  t.regex(classifyThrown('a string', contract)!.signature, /non-Error thrown \(string\)/);
  t.regex(classifyThrown(undefined, contract)!.signature, /non-Error thrown \(undefined\)/);
});

test('signatures group one defect reached through different inputs', (t) => {
  t.is(normalise('unknown key "a.b" at line 12'), normalise('unknown key "c" at line 3'));
  t.is(
    normalise('Unresolved alias (the anchor must be set before the alias): a-1:'),
    normalise('Unresolved alias (the anchor must be set before the alias): b'),
  );
  const e = new TypeError('boom');
  e.stack =
    'TypeError: boom\n    at hasOwnProperty (<anonymous>)\n    at ConfigReader.mapping (file:///root/pal/dist/src/config/index.js:98:31)\n';
  t.is(topFrame(e), 'ConfigReader.mapping (dist/src/config/index.js:98)');
});
