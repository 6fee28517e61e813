// Child processes a test starts: killed at the test's end if still running, and awaited.
import type { ChildProcess } from 'node:child_process';
import type { ExecutionContext } from 'ava';

/** A child killed at test end if still running. */
export function track(t: ExecutionContext, child: ChildProcess): ChildProcess {
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}

/** Resolves once the child has exited (at once if it has). */
export async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((resolve) => child.once('exit', resolve));
}
