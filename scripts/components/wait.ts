// The one polling helper of the tests: no sleeps as synchronisation, a condition polled with a
// deadline. A probe that throws is retried (the thing it reads may not exist yet); its last error
// is in the timeout's message.

import { errorMessage } from '../../src/shared/error-message.js';

export interface WaitOptions {
  /** Deadline; default 30 s. */
  readonly timeoutMs?: number;
  /** Pause between probes (a poll interval, not synchronisation); default 100 ms. */
  readonly intervalMs?: number;
}

/** Resolves with the probe's first value that is neither undefined nor false; rejects after the deadline. */
export async function waitFor<T>(
  what: string,
  probe: () => T | Promise<T>,
  { timeoutMs = 30_000, intervalMs = 100 }: WaitOptions = {},
): Promise<Exclude<T, undefined | false>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as Exclude<T, undefined | false>;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${errorMessage(lastError)}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
