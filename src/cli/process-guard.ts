// Last line of defence for pald: what no code path caught must neither kill pald silently nor
// leave it serving from a state nobody can vouch for.
//
// * An unhandled rejection is an operation that failed and that nobody awaited (e.g. a reload
//   started by a file watcher). Its promise chain unwound through async code that had already
//   handed control back to the event loop at each await: shared state is as consistent as after
//   any handled error. Logged with its reason; pald keeps serving.
// * An uncaught exception unwound a synchronous call stack in the middle of whatever it was doing
//   — possibly half-way through updating handle tables, locked-memory accounting or a cache that
//   authorisation reads. Serving on from there could mean deciding on inconsistent state, so pald
//   fails closed: it logs the reason, stops (unmounts) within a deadline and exits 70 (EX_SOFTWARE)
//   for its supervisor to restart it from the files on disk. Inputs known to reach such paths (the
//   Docker API's answers, the manifest, pald.yaml) are contained where they are parsed instead.

export interface ProcessGuardOptions {
  readonly log: (line: string) => void;
  /** Best-effort orderly shutdown after an uncaught exception (e.g. unmount). */
  readonly stop?: () => Promise<unknown>;
  /** How long `stop` may take before the process exits anyway. */
  readonly stopDeadlineMs?: number;
  readonly exit?: (code: number) => void;
}

export const EXIT_UNCAUGHT = 70;

export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const frame = err.stack
      ?.split('\n')
      .find((l) => l.trimStart().startsWith('at '))
      ?.trim();
    return `${err.name}: ${err.message}${frame ? ` (${frame})` : ''}`;
  }
  try {
    return `non-error value ${String(err)}`;
  } catch {
    return 'a value that cannot be printed';
  }
}

export function installProcessGuard(opts: ProcessGuardOptions): void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  process.on('unhandledRejection', (reason) => {
    opts.log(`pald: unhandled rejection (a bug; the operation failed, pald keeps serving): ${describeError(reason)}`);
  });
  let fatal = false;
  process.on('uncaughtException', (err) => {
    opts.log(`pald: uncaught exception (a bug; state is no longer known good, stopping): ${describeError(err)}`);
    if (fatal) return;
    fatal = true;
    process.exitCode = EXIT_UNCAUGHT;
    // Not unref'd: the deadline must fire even if `stop` hangs on nothing that keeps node alive.
    const deadline = setTimeout(() => exit(EXIT_UNCAUGHT), opts.stopDeadlineMs ?? 5_000);
    const stopped = opts.stop ? Promise.resolve().then(opts.stop) : Promise.resolve();
    stopped
      .catch((stopErr: unknown) => opts.log(`pald: stop after uncaught exception failed: ${describeError(stopErr)}`))
      .finally(() => {
        clearTimeout(deadline);
        exit(EXIT_UNCAUGHT);
      });
  });
}
