// Client side of the admin socket, for the `pal` CLI.

import { connect } from 'node:net';
import type { AdminRequest, AdminResponse } from '../daemon/index.js';

export const DEFAULT_ADMIN_SOCKET = '/run/pald/admin.sock';

/** pald is not there (or we may not talk to it): `pal` exits 3. */
export class AdminUnreachableError extends Error {
  override name = 'AdminUnreachableError';
  constructor(
    message: string,
    /** errno code of the failed connect (ENOENT, ECONNREFUSED, EACCES…), ETIMEDOUT, or undefined. */
    readonly code?: string,
  ) {
    super(message);
  }
}

/** pald answered with an error: `pal` exits 1. */
export class AdminRequestError extends Error {
  override name = 'AdminRequestError';
}

export interface AdminCallOptions {
  readonly timeoutMs?: number;
  /**
   * For audit --follow: the first answer goes to onResult, then each streamed event to onEvent;
   * the promise resolves when pald hangs up or the signal aborts.
   */
  readonly follow?: { onResult(result: unknown): void; onEvent(event: unknown): void };
  readonly signal?: AbortSignal;
}

export function adminRequest(socketPath: string, request: AdminRequest, opts: AdminCallOptions = {}): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let buffered = '';
    let answered = false;
    const timeoutMs = opts.timeoutMs ?? 15_000;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new AdminUnreachableError(`pald did not answer on ${socketPath} within ${timeoutMs} ms`, 'ETIMEDOUT'));
    }, timeoutMs);
    opts.signal?.addEventListener('abort', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(JSON.stringify(request) + '\n'));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new AdminUnreachableError(`cannot reach pald at ${socketPath}: ${err.code ?? err.message}`, err.code));
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (!answered) reject(new AdminUnreachableError(`pald closed the admin connection on ${socketPath}`));
      else resolve(undefined);
    });
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let message: AdminResponse | { event: unknown };
        try {
          message = JSON.parse(line) as AdminResponse | { event: unknown };
        } catch {
          socket.destroy();
          reject(new AdminRequestError('pald sent a malformed answer'));
          return;
        }
        if ('event' in message) {
          opts.follow?.onEvent(message.event);
          continue;
        }
        if (answered) continue;
        answered = true;
        clearTimeout(timer);
        if (message.ok) {
          if (opts.follow) opts.follow.onResult(message.result);
          else {
            socket.end();
            resolve(message.result);
          }
        } else {
          socket.end();
          reject(new AdminRequestError(message.error));
        }
      }
    });
  });
}
