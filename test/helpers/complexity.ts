// Complexity by counted work, not by time: tests must not assert on the clock (a loaded machine made
// the earlier time ratios fail). While `f` runs, the built-in string, array and regexp methods that
// copy or scan are wrapped, and each call adds the elements it touches (characters copied or
// scanned, array items visited or moved) to a counter. The count is a pure function of the input,
// so the same run gives the same number on any machine under any load.
//
// It sees what JavaScript code does through these methods: the usual shapes of accidental quadratic
// work (re-slicing a growing prefix, re-scanning a line per error, comparing each key with every
// earlier one through some/find/indexOf). It does not see a loop that indexes characters one by one
// (`s[i]`), which does linear work per step by construction, nor the regexp engine's backtracking.

type Method = (this: unknown, ...args: unknown[]) => unknown;
type Cost = (self: unknown, args: readonly unknown[], result: unknown) => number;

const len = (x: unknown): number =>
  typeof x === 'string' || Array.isArray(x) ? x.length : x && typeof x === 'object' && 'length' in x ? 1 : 0;
const selfLen: Cost = (self) => len(self);
const resultLen: Cost = (_s, _a, result) => len(result);
const needleLen: Cost = (_s, args) => len(args[0]);

/** indexOf-like: the distance scanned from the start position to the hit (or the end). */
const scanned: Cost = (self, args, result) => {
  const from = typeof args[1] === 'number' ? Math.max(0, args[1]) : 0;
  return typeof result === 'number' && result >= 0 ? result - from + 1 : len(self) - from;
};

/** A regexp scans from lastIndex (sticky/global) or 0 to the end of its match, or to the end. */
const regexpScan: Cost = (self, args, result) => {
  const re = self as RegExp;
  const input = String(args[0]);
  const from = re.global || re.sticky ? re.lastIndex : 0;
  if (result === null || result === false) return re.sticky ? 1 : input.length - from;
  if (Array.isArray(result)) return (result as RegExpExecArray).index - from + (result[0]?.length ?? 0) + 1;
  return input.length - from; // test(): true, position unknown
};

// V8 makes a string slice of 13 characters or more as a view of its parent (O(1)), a shorter one
// as a copy of at most 12: a constant either way.
const constant: Cost = () => 1;

const STRING_COSTS: Readonly<Record<string, Cost>> = {
  slice: constant,
  substring: constant,
  substr: constant,
  split: selfLen,
  indexOf: scanned,
  lastIndexOf: selfLen,
  includes: selfLen,
  startsWith: needleLen,
  endsWith: needleLen,
  replace: selfLen,
  replaceAll: selfLen,
  match: selfLen,
  search: selfLen,
  trim: selfLen,
  trimStart: selfLen,
  trimEnd: selfLen,
  repeat: resultLen,
  padStart: resultLen,
  padEnd: resultLen,
  concat: resultLen,
  toLowerCase: selfLen,
  toUpperCase: selfLen,
};

const ARRAY_COSTS: Readonly<Record<string, Cost>> = {
  slice: resultLen,
  splice: selfLen,
  concat: resultLen,
  join: selfLen,
  indexOf: scanned,
  lastIndexOf: selfLen,
  includes: selfLen,
  some: selfLen,
  every: selfLen,
  find: selfLen,
  findIndex: selfLen,
  findLast: selfLen,
  filter: selfLen,
  map: selfLen,
  forEach: selfLen,
  reduce: selfLen,
  flat: resultLen,
  shift: selfLen,
  unshift: selfLen,
  sort: selfLen,
  reverse: selfLen,
};

const REGEXP_COSTS: Readonly<Record<string, Cost>> = { exec: regexpScan, test: regexpScan };

function wrap(proto: object, costs: Readonly<Record<string, Cost>>, add: (n: number) => void): () => void {
  const saved: Array<[string, PropertyDescriptor]> = [];
  for (const [name, cost] of Object.entries(costs)) {
    const d = Object.getOwnPropertyDescriptor(proto, name);
    if (d === undefined || typeof d.value !== 'function') continue;
    const original = d.value as Method;
    saved.push([name, d]);
    let inside = false; // a built-in calling itself (test → exec) counts once
    const counted = function (this: unknown, ...args: unknown[]): unknown {
      if (inside) return original.apply(this, args);
      inside = true;
      try {
        const before = this instanceof RegExp ? this.lastIndex : 0;
        const result = original.apply(this, args);
        if (this instanceof RegExp) {
          // the cost reads where the scan started: put lastIndex back for it, then forward again
          const now = this.lastIndex;
          this.lastIndex = before;
          add(1 + cost(this, args, result));
          this.lastIndex = now;
        } else add(1 + cost(this, args, result));
        return result;
      } finally {
        inside = false;
      }
    };
    Object.defineProperty(proto, name, { ...d, value: counted });
  }
  return () => {
    for (const [name, d] of saved) Object.defineProperty(proto, name, d);
  };
}

/** Wraps the counted built-ins, each call adding its cost to `add`; returns the undo. */
function instrument(add: (n: number) => void): () => void {
  const restores = [
    wrap(String.prototype, STRING_COSTS, add),
    wrap(Array.prototype, ARRAY_COSTS, add),
    wrap(RegExp.prototype, REGEXP_COSTS, add),
  ];
  return () => {
    for (const restore of restores) restore();
  };
}

/** Counted work of one synchronous call. */
export function workOf(f: () => unknown): number {
  let work = 0;
  const restore = instrument((n) => (work += n));
  try {
    f();
  } finally {
    restore();
  }
  return work;
}

/** Counted work of one asynchronous call. Use from test.serial: work of a concurrent test would count too. */
export async function workOfAsync(f: () => Promise<unknown>): Promise<number> {
  let work = 0;
  const restore = instrument((n) => (work += n));
  try {
    await f();
  } finally {
    restore();
  }
  return work;
}

export interface Growth {
  readonly small: number;
  readonly large: number;
  /** work(k·n) / work(n): about k for linear work, k² for quadratic. */
  readonly ratio: number;
}

/** Counted-work ratio of run(input(k·n)) over run(input(n)). */
export function growth<T>(input: (n: number) => T, run: (x: T) => unknown, n: number, k: number): Growth {
  const a = input(n);
  const b = input(k * n);
  const small = workOf(() => run(a));
  const large = workOf(() => run(b));
  return { small, large, ratio: large / small };
}

export async function growthAsync<T>(
  input: (n: number) => T,
  run: (x: T) => Promise<unknown>,
  n: number,
  k: number,
): Promise<Growth> {
  const a = input(n);
  const b = input(k * n);
  const small = await workOfAsync(() => run(a));
  const large = await workOfAsync(() => run(b));
  return { small, large, ratio: large / small };
}
