// Complexity by input-size growth, not by wall-clock thresholds: the ratio of the time of f(k·n)
// to the time of f(n). Linear work gives about k; quadratic about k². Each sample of the small
// size runs it k times, so both samples do the same work for the same while, and samples of the
// two sizes alternate, each keeping its minimum: load on a shared machine, which comes and goes
// over seconds, weighs on both alike. Use from test.serial tests: a concurrent test running
// during an await would be timed too.

function msSince(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

export interface Growth {
  readonly small: number;
  readonly large: number;
  readonly ratio: number;
}

/** Time ratio of run(input(k·n)) over run(input(n)); one warm-up run of each first (JIT). */
export function growth<T>(input: (n: number) => T, run: (x: T) => unknown, n: number, k: number, runs = 5): Growth {
  const a = input(n);
  const b = input(k * n);
  run(a);
  run(b);
  let small = Infinity;
  let large = Infinity;
  for (let i = 0; i < runs; i++) {
    let t0 = process.hrtime.bigint();
    for (let j = 0; j < k; j++) run(a);
    small = Math.min(small, msSince(t0) / k);
    t0 = process.hrtime.bigint();
    run(b);
    large = Math.min(large, msSince(t0));
  }
  return { small, large, ratio: large / small };
}

export async function growthAsync<T>(
  input: (n: number) => T,
  run: (x: T) => Promise<unknown>,
  n: number,
  k: number,
  runs = 5,
): Promise<Growth> {
  const a = input(n);
  const b = input(k * n);
  await run(a);
  await run(b);
  let small = Infinity;
  let large = Infinity;
  for (let i = 0; i < runs; i++) {
    let t0 = process.hrtime.bigint();
    for (let j = 0; j < k; j++) await run(a);
    small = Math.min(small, msSince(t0) / k);
    t0 = process.hrtime.bigint();
    await run(b);
    large = Math.min(large, msSince(t0));
  }
  return { small, large, ratio: large / small };
}
