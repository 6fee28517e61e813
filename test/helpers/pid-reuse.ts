// Makes the kernel hand a chosen pid to a new process: set the pid namespace's last allocated pid
// (/proc/sys/kernel/ns_last_pid, one for the whole host) just below it and fork. Test files run
// two at a time, so the write and the fork are made under a lock shared by all processes: without
// it one file's fork takes the pid the other file just asked for. Other processes on the machine
// (dockerd, the other file's tests) fork too, hence the retries.
import { existsSync, writeFileSync } from 'node:fs';

import { withPidLock, type PidLockOptions } from './pid-lock.js';
import { waitFor } from './wait.js';

/** Forks under one lock before giving up: under a busy machine's forks most attempts lose the pid. */
const ATTEMPTS = 2_000;
const DEADLINE_MS = 30_000;

/**
 * Starts processes with `spawnOne` until one gets pid `target` (waited for to be free first) and
 * returns it; each other one is handed to `discard` (kill it and wait for its exit). The discards
 * are awaited after the pid is taken, not between attempts: the window between the write and the
 * fork is what other processes' forks steal, and every millisecond spent between attempts lets
 * more of them in.
 */
export async function withPid<C extends { readonly pid?: number | undefined }>(
  target: number,
  spawnOne: () => C,
  discard: (child: C) => Promise<void>,
  lock: PidLockOptions = {},
): Promise<C> {
  await waitFor(`pid ${target} to be free`, () => !existsSync(`/proc/${target}`), { timeoutMs: 10_000, intervalMs: 5 });
  return withPidLock(async () => {
    const discarded: Promise<void>[] = [];
    const deadline = Date.now() + DEADLINE_MS;
    try {
      for (let attempt = 0; attempt < ATTEMPTS && Date.now() < deadline; attempt++) {
        writeFileSync('/proc/sys/kernel/ns_last_pid', String(target - 1));
        const child = spawnOne();
        if (child.pid === target) return child;
        discarded.push(discard(child));
        // Past the target: the pid was taken by another process; wait until it is free again.
        if (existsSync(`/proc/${target}`)) {
          await waitFor(`pid ${target} to be free`, () => !existsSync(`/proc/${target}`), {
            timeoutMs: 10_000,
            intervalMs: 5,
          });
        }
      }
      throw new Error(`could not get pid ${target} reallocated in ${ATTEMPTS} attempts or ${DEADLINE_MS} ms`);
    } finally {
      await Promise.all(discarded);
    }
  }, lock);
}
