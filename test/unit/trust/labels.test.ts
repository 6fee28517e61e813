import test from 'ava';
import { customDataLabels, isValidLabel, parseLabelList } from '../../../src/trust/labels.js';

test('labels: syntax, comma lists and target custom data', (t) => {
  t.true(isValidLabel('production-team-secret'));
  t.true(isValidLabel('a.b_c-1'));
  for (const bad of ['', '.hidden', 'a b', 'a/b', 'ä', 'x'.repeat(200), 'a,b', 'Ops', '_x'])
    t.false(isValidLabel(bad), bad);
  t.deepEqual(parseLabelList(' a, b,,c '), ['a', 'b', 'c']);
  t.deepEqual(parseLabelList(undefined), []);
  t.deepEqual(customDataLabels({ pal: { labels: ['a', 'b'] } }), { labels: ['a', 'b'] });
  t.deepEqual(customDataLabels({ other: 1 }), { labels: [] });
  t.deepEqual(customDataLabels(null), { labels: [] });
  t.deepEqual(customDataLabels(['pal']), { labels: [] });
  t.truthy(customDataLabels({ pal: { labels: 'a' } }).problem);
  t.truthy(customDataLabels({ pal: { labels: ['a', 1] } }).problem);
  t.truthy(customDataLabels({ pal: null }).problem);
});
