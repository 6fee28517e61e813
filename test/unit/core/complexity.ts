// Complexity by input-size growth, not by wall-clock thresholds: time f(n) and f(k·n), each the
// minimum of a few runs (the least disturbed by other load on the machine), and return the ratio.
// Linear work gives about k; quadratic about k².

export function minMs(run: () => unknown, runs = 3): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    run();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return best;
}

export async function minMsAsync(run: () => Promise<unknown>, runs = 3): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await run();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return best;
}

/** Time ratio of input(k·n) over input(n); one warm-up run of the small input first (JIT). */
export function growth<T>(input: (n: number) => T, run: (x: T) => unknown, n: number, k: number, runs = 3): { small: number; large: number; ratio: number } {
  const a = input(n);
  const b = input(k * n);
  run(a);
  const small = minMs(() => run(a), runs);
  const large = minMs(() => run(b), runs);
  return { small, large, ratio: large / small };
}

export async function growthAsync<T>(input: (n: number) => T, run: (x: T) => Promise<unknown>, n: number, k: number, runs = 3): Promise<{ small: number; large: number; ratio: number }> {
  const a = input(n);
  const b = input(k * n);
  await run(a);
  const small = await minMsAsync(() => run(a), runs);
  const large = await minMsAsync(() => run(b), runs);
  return { small, large, ratio: large / small };
}
