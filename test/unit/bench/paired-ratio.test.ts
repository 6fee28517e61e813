import test from 'ava';

import { pairedRatio, percentile, quartiles } from '../../../test/bench/harness.js';

test('the median of per-round ratios, each round paired with the floor round before it', (t) => {
  // The floor moves by 3× between rounds; the case is 1.1× slower than the floor of its own round
  // in three rounds of four. The ratio of the two medians (45.0k / 38.2k = 1.18) mixes rounds.
  const floor = [20_000, 40_000, 50_000, 60_000];
  const other = [20_000 / 1.1, 40_000 / 1.1, 50_000 / 1.1, 60_000 / 1.5];
  t.is(pairedRatio(floor, other)!.toFixed(2), '1.10');
  t.is(pairedRatio([30_000, 10_000, 20_000], [15_000, 10_000, 40_000]), 1);
});

test('no ratio without pairs: different round counts, no rounds, or a round without throughput', (t) => {
  t.is(pairedRatio([1, 2], [1]), undefined);
  t.is(pairedRatio([], []), undefined);
  t.is(pairedRatio([1, 2], [1, 0]), undefined);
});

test('quartiles: the medians of the lower and the upper half', (t) => {
  t.deepEqual(quartiles([5, 1, 4, 2, 3]), [1.5, 4.5]);
  t.deepEqual(quartiles([8, 1, 6, 3, 2, 7, 4, 5]), [2.5, 6.5]);
  t.deepEqual(quartiles([2]), [2, 2]);
  t.true(quartiles([]).every(Number.isNaN));
});

test('percentile: nearest rank of a sorted list, the last for p99 of a short one, NaN for none', (t) => {
  const sorted = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
  t.is(percentile(sorted, 50), 60);
  t.is(percentile(sorted, 99), 100);
  t.is(percentile(sorted, 0), 10);
  t.is(percentile([7], 99), 7);
  t.true(Number.isNaN(percentile([], 50)));
});
