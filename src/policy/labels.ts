// The one label grammar (SPEC "Labels"), used wherever a label is written or read: the manifest,
// `pal seal`, config grants, sealed payloads and signed trust data. A label that breaks it is
// refused where it is written, with the reason — never silently dropped later, where a secret
// sealed for it would pass every check and still never open.

/** Lower case, digits and `. _ = -`; starts with a letter or digit; at most 128 bytes. */
export const LABEL_GRAMMAR = /^[a-z0-9][a-z0-9._=-]{0,127}$/;

/** Why `label` is not a valid label, or undefined when it is. */
export function labelProblem(label: unknown): string | undefined {
  if (typeof label !== 'string') return `a label must be a string, got ${label === null ? 'null' : typeof label}`;
  if (label.length === 0) return 'a label must not be empty';
  if (label.length > 128) return `label "${label.slice(0, 32)}…" is ${label.length} characters long (at most 128)`;
  if (LABEL_GRAMMAR.test(label)) return undefined;
  const shown = JSON.stringify(label);
  if (/[A-Z]/.test(label)) return `label ${shown} has upper case letters (labels are lower case)`;
  if (!/^[a-z0-9]/.test(label)) return `label ${shown} must start with a letter or digit`;
  return `label ${shown} has characters outside a-z 0-9 . _ = -`;
}

export function isValidLabel(label: unknown): label is string {
  return labelProblem(label) === undefined;
}
