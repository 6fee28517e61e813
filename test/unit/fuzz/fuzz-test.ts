// The unit-sized fuzz run of one target, for `npm test`: the hand-made hostile shapes of issue 21
// (scaled down) and a few hundred generated inputs from a fixed seed, each target in its own
// child processes exactly as `npm run fuzz` runs it. Known defects whose fixes are pending on
// other branches (test/fuzz/known-pending.ts) are logged, anything else fails the test.
import test from 'ava';
import { KNOWN_PENDING } from '../../fuzz/known-pending.js';
import { runTarget, type FindingGroup } from '../../fuzz/runner.js';

/** Fixed, so `npm test` is deterministic; PAL_FUZZ_SEED explores other inputs. */
const SEED = process.env['PAL_FUZZ_SEED'] === undefined ? 20261201 : Number(process.env['PAL_FUZZ_SEED']);

export const UNIT_RUNS = 200;

function describe(f: FindingGroup): string {
  const where =
    f.example.shape !== undefined ? `shape "${f.example.shape}"` : `generated input #${f.example.index} (seed ${SEED})`;
  return `${f.kind} ×${f.count}: ${f.signature}\n  first at ${where}\n  ${f.detail.split('\n').slice(0, 6).join('\n  ')}\n  input: ${(f.example.input ?? '?').slice(0, 300)}`;
}

export function fuzzTest(target: string, runs = UNIT_RUNS): void {
  test(`${target}: hostile shapes and ${runs} generated inputs give a value or an error with a reason, never a crash, hang or stray rejection`, async (t) => {
    const result = await runTarget(target, {
      runs,
      seed: SEED,
      scale: 'unit',
      hangMs: 10_000,
      slowMs: 0,
      settleMs: 5_000,
      timeLimitMs: 150_000,
    });
    t.log(`${result.inputs} inputs (${result.shapes} shapes) in ${result.ms} ms, ${result.children} child process(es)`);
    for (const f of result.findings.filter((g) => g.known !== undefined)) {
      t.log(
        `known, not fixed on main (${f.known!.item === 'new' ? 'new' : `issue ${f.known!.item}`}): ${f.kind} ×${f.count} ${f.signature}`,
      );
    }
    for (const k of KNOWN_PENDING.filter((p) => p.targets.includes(target) && p.scales.includes('unit'))) {
      if (!result.findings.some((f) => f.known === k))
        t.log(
          `KNOWN_PENDING ${k.item} no longer shows up in ${target}: remove it from test/fuzz/known-pending.ts if its fix is merged`,
        );
    }
    t.is(result.inputs, result.planned, 'every input ran');
    const unexpected = result.findings.filter((f) => f.known === undefined);
    t.deepEqual(unexpected.map(describe), []);
  });
}
