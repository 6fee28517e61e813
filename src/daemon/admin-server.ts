// The admin socket: root only (SO_PEERCRED per connection), one JSON request per line.

import { createServer, type Server, type Socket } from 'node:net';
import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseAdminRequest, MAX_REQUEST_BYTES, type AdminRequest, type AdminResponse } from './admin-protocol.js';
import { errorMessage } from '../shared/error-message.js';

export interface AdminHandlers {
  handle(request: Exclude<AdminRequest, { op: 'audit' }>): Promise<unknown>;
  recentAudit(n: number): unknown[];
  subscribeAudit(listener: (event: unknown) => void): () => void;
}

export interface AdminServerOptions {
  readonly socketPath: string;
  readonly peerUid: (socket: Socket) => number | undefined;
  readonly log: (line: string) => void;
}

export interface AdminServer {
  close(): Promise<void>;
}

function send(socket: Socket, message: AdminResponse | { event: unknown }): void {
  if (!socket.destroyed) socket.write(JSON.stringify(message) + '\n');
}

async function removeStaleSocket(path: string): Promise<void> {
  try {
    const s = await stat(path);
    if (!s.isSocket()) throw new Error(`${path} exists and is not a socket`);
    await rm(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** The admin socket's directory, created if missing and made root's alone (0700) either way. */
export async function prepareAdminDir(socketPath: string): Promise<void> {
  const dir = dirname(socketPath);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

export async function startAdminServer(handlers: AdminHandlers, opts: AdminServerOptions): Promise<AdminServer> {
  await prepareAdminDir(opts.socketPath);
  await removeStaleSocket(opts.socketPath);

  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let uid: number | undefined;
    try {
      uid = opts.peerUid(socket);
    } catch {
      uid = undefined;
    }
    if (uid !== 0) {
      send(socket, { ok: false, error: 'permission denied: the admin socket accepts root only' });
      socket.end();
      return;
    }
    let buffered = '';
    let unsubscribe: (() => void) | undefined;
    socket.on('close', () => unsubscribe?.());
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_REQUEST_BYTES) {
        send(socket, { ok: false, error: 'request too large' });
        socket.end();
        return;
      }
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (!line) continue;
        const request = parseAdminRequest(line);
        if ('error' in request) {
          send(socket, { ok: false, error: request.error });
          continue;
        }
        if (request.op === 'audit') {
          send(socket, { ok: true, result: handlers.recentAudit(request.n ?? 50) });
          if (request.follow && !unsubscribe) unsubscribe = handlers.subscribeAudit((event) => send(socket, { event }));
          continue;
        }
        handlers.handle(request).then(
          (result) => send(socket, { ok: true, result }),
          (err: unknown) => send(socket, { ok: false, error: errorMessage(err) }),
        );
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Created 0600 from the start: no window where another user could connect.
    const oldMask = process.umask(0o177);
    try {
      server.listen(opts.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      process.umask(oldMask);
    }
  });
  await chmod(opts.socketPath, 0o600);
  server.on('error', (err) => opts.log(`pald: admin socket: ${err.message}`));

  return {
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(opts.socketPath, { force: true });
    },
  };
}
