// Whether a manifest entry, or what pald learnt of a sealed payload, is unchanged: what decides
// if the kernel's caches and the learnt facts of a secret must be dropped (view-state.ts).

import type { SealedFacts } from '../policy/index.js';
import type { ManifestEntry } from '../store/index.js';

export function sameEntry(a: ManifestEntry, b: ManifestEntry): boolean {
  return (
    a.version === b.version &&
    a.mode === b.mode &&
    a.mtimeMs === b.mtimeMs &&
    a.backend === b.backend &&
    a.ciphertextPath === b.ciphertextPath &&
    a.size === b.size &&
    a.labels.length === b.labels.length &&
    a.labels.every((l, i) => l === b.labels[i])
  );
}

export function sameFacts(a: SealedFacts | undefined, b: SealedFacts): boolean {
  return (
    a !== undefined &&
    a.version === b.version &&
    a.size === b.size &&
    a.sealedName === b.sealedName &&
    a.sealedLabels.length === b.sealedLabels.length &&
    a.sealedLabels.every((l, i) => l === b.sealedLabels[i])
  );
}
