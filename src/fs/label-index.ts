// The manifest's entries by their first label, so that a container's start (view-state.ts sponsor)
// looks only at secrets it may hold instead of scanning every one: a secret is allowed only to a
// container holding all of its manifest labels (policy mayAllowLabels: never one without labels),
// so one whose first label the container lacks is denied whatever else it knows. Built once per
// manifest (its entries map is replaced, never changed, on every reload).

import type { ManifestEntry } from '../store/index.js';

interface LabelIndex {
  /** In manifest order. */
  readonly entries: readonly ManifestEntry[];
  /** First label → the positions in `entries` of the entries it starts. */
  readonly byFirstLabel: ReadonlyMap<string, readonly number[]>;
}

const indexes = new WeakMap<ReadonlyMap<string, ManifestEntry>, LabelIndex>();

function indexOf(manifest: ReadonlyMap<string, ManifestEntry>): LabelIndex {
  let index = indexes.get(manifest);
  if (index) return index;
  const entries = [...manifest.values()];
  const byFirstLabel = new Map<string, number[]>();
  entries.forEach((entry, position) => {
    const first = entry.labels[0];
    if (first === undefined) return; // no labels: allowed to no container
    let positions = byFirstLabel.get(first);
    if (!positions) byFirstLabel.set(first, (positions = []));
    positions.push(position);
  });
  index = { entries, byFirstLabel };
  indexes.set(manifest, index);
  return index;
}

/**
 * The entries of `manifest` whose first label is in `held`, in manifest order: every entry a
 * container holding `held` may be allowed, and some it may not (their other labels are still to be
 * checked). Lazy: a start that stops after a few allowed secrets costs a few steps, not a pass over
 * thousands (each label's positions are merged as they are taken).
 */
export function* entriesStartingWith(
  manifest: ReadonlyMap<string, ManifestEntry>,
  held: readonly string[],
): Generator<ManifestEntry> {
  const { entries, byFirstLabel } = indexOf(manifest);
  const lists = [...new Set(held)]
    .map((label) => byFirstLabel.get(label))
    .filter((positions): positions is readonly number[] => positions !== undefined);
  const cursors = lists.map(() => 0);
  for (;;) {
    let next = -1;
    for (let i = 0; i < lists.length; i++) {
      const position = lists[i]![cursors[i]!];
      if (position !== undefined && (next < 0 || position < lists[next]![cursors[next]!]!)) next = i;
    }
    if (next < 0) return;
    yield entries[lists[next]![cursors[next]!++]!]!;
  }
}
