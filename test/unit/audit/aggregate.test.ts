import test from 'ava';
import { RepeatAggregator } from '../../../src/audit/aggregate.js';
import { decisionsIn, type AuditEvent } from '../../../src/audit/event.js';
import { denialEvent } from '../../helpers/audit-events.js';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const denial = denialEvent;

const total = (lines: readonly AuditEvent[]): number => lines.reduce((n, l) => n + decisionsIn(l), 0);

test('the first refusal is written, the rest of the window folds into one line with the exact count', (t) => {
  const c = clock();
  const agg = new RepeatAggregator({ intervalMs: 10_000, now: c.now, maxKeys: 100 });
  const lines: AuditEvent[] = [];
  for (let pid = 1; pid <= 5_000; pid++) lines.push(...agg.admit(denial(pid)));
  t.is(lines.length, 1);
  t.is(lines[0]!.pid, 1);
  t.deepEqual(agg.due(), [], 'nothing is due before the window ends');
  c.advance(10_000);
  const due = agg.due();
  t.is(due.length, 1);
  t.like(due[0], { pid: 5_000, repeated: 4_999 });
  lines.push(...due);
  t.is(total(lines), 5_000);
  // A quiet window after that is forgotten: the next refusal is a "first" again.
  c.advance(10_000);
  t.deepEqual(agg.due(), []);
  t.is(agg.size(), 0);
  t.deepEqual(
    agg.admit(denial(9)).map((l) => l.repeated),
    [undefined],
  );
});

test('continued hammering gives one line per interval; a refusal after its window closes it with the count', (t) => {
  const c = clock();
  const agg = new RepeatAggregator({ intervalMs: 10_000, now: c.now, maxKeys: 100 });
  const lines: AuditEvent[] = [];
  let sent = 0;
  for (let second = 0; second < 60; second++) {
    for (let i = 0; i < 100; i++, sent++) lines.push(...agg.admit(denial(sent + 1)));
    c.advance(1_000);
  }
  lines.push(...agg.drain());
  t.is(total(lines), sent);
  t.true(lines.length <= 8, `${lines.length} lines for 60 s of hammering`);
  t.true(lines.slice(1).every((l) => (l.repeated ?? 1) > 1));
});

test('keys: container, secret, reason, op and decision separate; numbers in a reason do not', (t) => {
  const c = clock();
  const agg = new RepeatAggregator({ intervalMs: 10_000, now: c.now, maxKeys: 100 });
  const written = (e: AuditEvent): number => agg.admit(e).length;
  t.is(written(denial(1)), 1);
  t.is(written(denial(2, { container: 'api (ba9876543210)' })), 1);
  t.is(written(denial(3, { secret: 'other' })), 1);
  t.is(written(denial(4, { reason: 'missing label other' })), 1);
  t.is(written(denial(5, { op: 'open' })), 1);
  t.is(written(denial(6, { decision: 'error' })), 1);
  t.is(written(denial(7, { container: undefined, reason: 'process 4711 is gone' })), 1);
  t.is(
    written(denial(8, { container: undefined, reason: 'process 4712 is gone' })),
    0,
    'a pid in the reason is not a new key',
  );
  t.is(written(denial(9)), 0);
});

test('allowed opens are never folded', (t) => {
  const c = clock();
  const agg = new RepeatAggregator({ intervalMs: 10_000, now: c.now, maxKeys: 100 });
  let lines = 0;
  for (let i = 0; i < 50; i++)
    lines += agg.admit(denial(i, { op: 'open', decision: 'allow', reason: 'holds db' })).length;
  t.is(lines, 50);
  t.is(agg.size(), 0);
});

test('the key bound closes the oldest window early, its count written, memory bounded', (t) => {
  const c = clock();
  const agg = new RepeatAggregator({ intervalMs: 10_000, now: c.now, maxKeys: 10 });
  const lines: AuditEvent[] = [];
  let sent = 0;
  for (let round = 0; round < 3; round++) {
    for (let k = 0; k < 40; k++, sent++) lines.push(...agg.admit(denial(sent, { secret: `s${k}` })));
  }
  t.true(agg.size() <= 10);
  lines.push(...agg.drain());
  t.is(total(lines), sent);
});
