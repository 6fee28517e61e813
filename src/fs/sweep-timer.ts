// One timer for many deadlines: armed for the earliest one asked for, it runs a sweep that finds
// what is due (and arms it again for what is left). Shared by the caller refresh and the standing
// sponsors, which each keep their own deadlines.

/** Runs `run` after `ms` (a fake in tests); returns a cancel. */
export type Scheduler = (run: () => void, ms: number) => () => void;

export const realTimer: Scheduler = (run, ms) => {
  const t = setTimeout(run, ms);
  t.unref();
  return () => clearTimeout(t);
};

export class SweepTimer {
  private cancel: (() => void) | undefined;
  private armedAt = Infinity;

  constructor(
    private readonly schedule: Scheduler,
    private readonly clock: () => number,
    private readonly sweep: () => void,
  ) {}

  /** The sweep runs at `at` (clock ms) at the latest: an earlier arming wins. */
  arm(at: number): void {
    if (at >= this.armedAt) return;
    this.cancel?.();
    this.armedAt = at;
    this.cancel = this.schedule(
      () => {
        this.cancel = undefined;
        this.armedAt = Infinity;
        this.sweep();
      },
      Math.max(0, Math.ceil(at - this.clock())),
    );
  }

  /** Nothing armed any more. */
  clear(): void {
    this.cancel?.();
    this.cancel = undefined;
    this.armedAt = Infinity;
  }
}
