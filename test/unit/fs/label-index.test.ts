// The manifest's label index (src/fs/label-index.ts) never leaves out a secret a container may be
// allowed, and keeps the manifest's order: what a start decides ahead is what a scan would decide.
import test from 'ava';
import fc from 'fast-check';
import { entriesStartingWith } from '../../../src/fs/label-index.js';
import { mayAllowLabels, type Caller } from '../../../src/policy/index.js';
import type { ManifestEntry } from '../../../src/store/index.js';
import { entry } from './fakes.js';

const LABELS = ['a', 'b', 'c', 'd', 'e'];

function containerHolding(labels: string[]): Caller {
  return {
    ctx: { pid: 1, uid: 0, gid: 0 },
    identity: { kind: 'container', pid: 1, tgid: 1, uid: 0, gid: 0 },
    trust: { labels, state: 'verified', provider: 'notary', reason: 'test' },
  };
}

test('the index names, in manifest order, every entry a scan with mayAllowLabels would keep', (t) => {
  fc.assert(
    fc.property(fc.array(fc.subarray(LABELS), { maxLength: 40 }), fc.subarray(LABELS), (entryLabels, held) => {
      const manifest = new Map<string, ManifestEntry>(
        entryLabels.map((labels, i) => [`s-${i}`, entry(`s-${i}`, labels)]),
      );
      const mayAllow = mayAllowLabels(containerHolding(held));
      const scanned = [...manifest.values()].filter((e) => mayAllow(e.labels)).map((e) => e.name);
      const indexed = [...entriesStartingWith(manifest, held)];
      t.deepEqual(
        indexed.filter((e) => mayAllow(e.labels)).map((e) => e.name),
        scanned,
      );
      const positions = indexed.map((e) => Number(e.name.slice(2)));
      t.deepEqual(
        positions,
        [...positions].sort((x, y) => x - y),
        'manifest order',
      );
    }),
  );
  t.pass();
});

test("a container holding none of a manifest's labels is named nothing", (t) => {
  const manifest = new Map(
    Array.from({ length: 1000 }, (_, i): [string, ManifestEntry] => [`s-${i}`, entry(`s-${i}`, ['billing'])]),
  );
  t.deepEqual([...entriesStartingWith(manifest, ['demo'])], []);
  t.is([...entriesStartingWith(manifest, ['billing', 'billing'])].length, 1000, 'a label held twice counts once');
});
