// Label syntax and the two places labels are written: `pal.labels=a,b` and target custom data.

/**
 * The one label grammar (SPEC "Labels", src/policy/labels.ts): signed data asking for a label
 * outside it is dropped and reported, as the manifest, seal and config refuse it where written.
 */
export { isValidLabel, labelProblem } from '../policy/index.js';

/** The image/container label key PAL uses for "labels this image asks for". */
export const PAL_LABELS_KEY = 'pal.labels';

/** "a, b,,c" → ["a","b","c"] (syntax is checked later, in one place). */
export function parseLabelList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * Labels from a target's custom data `{"pal":{"labels":[...]}}`. Custom data without a `pal`
 * member asks for nothing; a malformed `pal` member is reported, never half-used.
 */
export function customDataLabels(custom: unknown): { labels: string[]; problem?: string } {
  if (typeof custom !== 'object' || custom === null || Array.isArray(custom)) return { labels: [] };
  const pal = (custom as Record<string, unknown>)['pal'];
  if (pal === undefined) return { labels: [] };
  const labels = typeof pal === 'object' && pal !== null ? (pal as Record<string, unknown>)['labels'] : undefined;
  if (!Array.isArray(labels) || labels.length > 1000 || !labels.every((l): l is string => typeof l === 'string')) {
    return { labels: [], problem: 'custom data "pal.labels" is not a list of strings' };
  }
  return { labels };
}
