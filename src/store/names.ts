// Secret names are flat file names: they become directory entries under /run/pal.

const NAME_RE = /^[A-Za-z0-9._-]+$/;

/** Why `name` is not a valid secret name, or undefined when it is. */
export function secretNameProblem(name: string): string | undefined {
  if (!NAME_RE.test(name)) return `invalid name "${name}" (allowed: A-Z a-z 0-9 . _ -)`;
  if (name.startsWith('.')) return `invalid name "${name}" (must not start with a dot)`;
  if (Buffer.byteLength(name) > 255) return `invalid name (longer than 255 bytes)`;
  return undefined;
}

/** Labels have one grammar everywhere (SPEC "Labels"): the policy's, re-exported for the manifest. */
export { labelProblem } from '../policy/index.js';

/** Parses "0400", "400", "0o400" into permission bits; undefined when invalid. */
export function parseMode(text: string): number | undefined {
  const m = /^(?:0o?)?([0-7]{1,3})$/.exec(text.trim());
  if (!m) return undefined;
  return parseInt(m[1]!, 8);
}
