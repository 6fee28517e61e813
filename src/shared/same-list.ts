// Whether two lists of strings hold the same items in the same order. One helper for the code
// base: the audit line's label cache and the manifest reload's entry comparison both ask it.

export function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
