// The bench mounts filesystems and starts daemons (palds, dockerd, FUSE servers) that only the
// suites' `finally` blocks take down. Node's default for SIGTERM, SIGINT and SIGHUP is to die at
// once, skipping them: a `timeout` or a closed terminal left FUSE mounts, bind mounts and tmpfs
// behind. Instead, the first such signal aborts the run's signal (a suite stops measuring: its
// client runs reject and its loops throw), the suites clean up, and the runner exits with the
// shell's code for that signal. A second signal exits at once, as Ctrl-C twice does elsewhere.
import { constants } from 'node:os';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type Interrupt = (typeof SIGNALS)[number];

export interface InterruptWatch {
  /** Aborted at the first signal, its reason an Error naming the signal. */
  readonly signal: AbortSignal;
  /** The exit code the signal asks for (128 + its number), once one arrived. */
  exitCode(): number | undefined;
  /** Restores the default handling. */
  dispose(): void;
}

export function watchInterrupts(log: (line: string) => void = (l) => process.stderr.write(l)): InterruptWatch {
  const controller = new AbortController();
  let received: Interrupt | undefined;
  const codeOf = (s: Interrupt): number => 128 + constants.signals[s];
  const handlers = SIGNALS.map((name) => {
    const handler = (): void => {
      if (received) {
        log(`${name} again: exiting without cleaning up\n`);
        process.exit(codeOf(name));
      }
      received = name;
      log(`${name}: stopping the bench and cleaning up (send it again to exit at once)\n`);
      controller.abort(new Error(`interrupted by ${name}`));
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  return {
    signal: controller.signal,
    exitCode: () => (received ? codeOf(received) : undefined),
    dispose: () => {
      for (const [name, handler] of handlers) process.off(name, handler);
    },
  };
}
