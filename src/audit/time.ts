// The audit line's time (SPEC §5: `Date#toISOString`, UTC with milliseconds), without a Date per
// line. On the warm path the addon answers opens in C and JS writes their lines in batches, each
// with the wall clock of its own open: formatting a Date for each was a tenth of what pald's JS
// thread spent per open. The "YYYY-MM-DDTHH:MM:SS." part changes once a second: it is formatted
// by toISOString itself (so years beyond 9999, before 1970 and every other form stay its own) and
// only the milliseconds are appended. Never local time: the TZ of pald's environment plays no part.

/** "000Z" … "999Z": the milliseconds and the zone letter. */
const MS_SUFFIX: readonly string[] = Array.from({ length: 1000 }, (_, i) => `${String(i).padStart(3, '0')}Z`);
/** The largest time value a Date holds (ECMA-262 TimeClip), either side of the epoch. */
const MAX_TIME_MS = 8.64e15;

let prefixSecond = NaN;
let prefix = '';
let lastMs = NaN;
let last = '';

/**
 * Exactly `new Date(ms).toISOString()`, for any number: fractions truncated as a Date does, and
 * the same RangeError for what a Date cannot hold (NaN, ±Infinity, beyond ±8.64e15).
 */
export function isoTime(ms: number): string {
  if (ms === lastMs) return last;
  const t = Math.trunc(ms) + 0; // TimeClip: toward zero, and -0 becomes +0
  if (!(Math.abs(t) <= MAX_TIME_MS)) return new Date(ms).toISOString(); // throws, as a Date does
  const msPart = ((t % 1000) + 1000) % 1000; // before 1970 too: the milliseconds count up from the second
  const second = t - msPart;
  if (second !== prefixSecond) {
    const iso = new Date(second).toISOString();
    prefix = iso.slice(0, iso.length - 4); // without "000Z"
    prefixSecond = second;
  }
  lastMs = ms;
  last = prefix + MS_SUFFIX[msPart]!;
  return last;
}
