// One pald per admin socket. A second pald started beside a running one (by hand, or a second unit
// with the same config) would take the running pald's /dev/fuse descriptor from pald-holder, serve
// the same mount beside it and replace its admin socket: `pal` would then talk to the newcomer,
// and the holder would keep nothing for the running pald's next restart. So pald asks first, before
// it opens or takes anything: a socket that accepts a connection belongs to a live pald.

import { createConnection } from 'node:net';

import { StartupError } from './startup.js';

/** How long a connect may hang before the socket counts as held (a stopped pald still has a backlog). */
const PROBE_MS = 2_000;

/** What a connect to the admin socket says about who holds it. */
export type AdminSocketProbe = 'live' | 'absent' | 'stale';

/** Connects to `socketPath` once: `live` when something listens there (or hangs), else why not. */
export function probeAdminSocket(socketPath: string, timeoutMs = PROBE_MS): Promise<AdminSocketProbe> {
  return new Promise((resolve) => {
    const socket = createConnection(socketPath);
    const done = (answer: AdminSocketProbe): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done('live'), timeoutMs);
    socket.once('connect', () => done('live'));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      // EAGAIN: a listener whose backlog is full is still a listener.
      if (err.code === 'EAGAIN') done('live');
      else done(err.code === 'ENOENT' ? 'absent' : 'stale');
    });
  });
}

/** Throws a StartupError when another pald answers on `socketPath`. */
export async function refuseIfAnotherPald(socketPath: string, timeoutMs = PROBE_MS): Promise<void> {
  if ((await probeAdminSocket(socketPath, timeoutMs)) !== 'live') return;
  throw new StartupError(
    `another pald is running (its admin socket ${socketPath} accepts connections): stop it first, ` +
      'or send it SIGHUP to reload its configuration',
  );
}
