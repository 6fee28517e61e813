// Whether a manifest entry, or what pald learnt of a sealed payload, is unchanged: what decides
// if the kernel's caches and the learnt facts of a secret must be dropped (view-state.ts).

import type { SealedFacts } from '../policy/index.js';
import type { ManifestEntry } from '../store/index.js';
import { sameList } from '../shared/same-list.js';

/**
 * Every field of the entry but its name (the key it was found under) and an image entry's
 * ciphertext bytes (their sha256 is `version`): anything else that differs may change what a
 * caller is allowed, what it reads or what the kernel was told of its size.
 */
export function sameEntry(a: ManifestEntry, b: ManifestEntry): boolean {
  return (
    a.version === b.version &&
    a.mode === b.mode &&
    a.mtimeMs === b.mtimeMs &&
    a.backend === b.backend &&
    a.ciphertextPath === b.ciphertextPath &&
    a.size === b.size &&
    a.sizeBound === b.sizeBound &&
    a.cacheTtlMs === b.cacheTtlMs &&
    a.image === b.image &&
    a.palFormat?.source === b.palFormat?.source &&
    a.palFormat?.base64 === b.palFormat?.base64 &&
    sameList(a.labels, b.labels) &&
    sameOptionalList(a.namespaces, b.namespaces)
  );
}

/** Absent (any caller) differs from every list, the empty one included. */
function sameOptionalList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return a === undefined || b === undefined ? a === b : sameList(a, b);
}

export function sameFacts(a: SealedFacts | undefined, b: SealedFacts): boolean {
  return (
    a !== undefined &&
    a.version === b.version &&
    a.size === b.size &&
    a.sealedName === b.sealedName &&
    sameList(a.sealedLabels, b.sealedLabels)
  );
}
