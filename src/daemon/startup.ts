// Start-up plumbing: each step fails with a one-line reason naming what it was doing, and what a step
// opened is closed again, in reverse, when a later step fails or pald stops.

import { readFile } from 'node:fs/promises';
import { errorMessage } from '../shared/error-message.js';
import type { Log } from './parts.js';

/** A startup failure with a one-line reason for the operator. */
export class StartupError extends Error {
  override name = 'StartupError';
}

/** Runs one start-up step; its failure becomes a StartupError that says which step it was. */
export function step<T>(what: string, work: () => Promise<T>): Promise<T> {
  return work().catch((err: unknown) => {
    throw new StartupError(`${what}: ${errorMessage(err)}`);
  });
}

/** What to undo, last opened first. A failing close is logged and the rest still run. */
export class Closers {
  private readonly closers: (() => Promise<void> | void)[] = [];

  constructor(private readonly log: Log) {}

  push(close: () => Promise<void> | void): void {
    this.closers.push(close);
  }

  async closeAll(): Promise<void> {
    while (this.closers.length) {
      const close = this.closers.pop()!;
      try {
        await close();
      } catch (err) {
        this.log(`pald: shutdown: ${errorMessage(err)}`);
      }
    }
  }
}

export async function packageVersion(): Promise<string> {
  try {
    const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
