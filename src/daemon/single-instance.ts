// One pald per admin socket. A second pald started beside a running one (by hand, or a second unit
// with the same config) would take the running pald's /dev/fuse descriptor from pald-holder, serve
// the same mount beside it and replace its admin socket: `pal` would then talk to the newcomer,
// and the holder would keep nothing for the running pald's next restart. So before pald opens or
// takes anything it locks `pald.lock` next to its admin socket (flock: held from the first moment
// of a start, which binds the socket only seconds later, and dropped by the kernel however pald
// ends), and asks the socket itself (a pald of a version without the lock still answers there).

import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';

import { prepareAdminDir } from './admin-server.js';
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
  throw anotherPald(`its admin socket ${socketPath} accepts connections`);
}

/** The refusal both checks give, with what showed the other pald. */
function anotherPald(evidence: string): StartupError {
  return new StartupError(
    `another pald is running (${evidence}): stop it first, or send it SIGHUP to reload its configuration`,
  );
}

/** The lock a running pald holds, next to its admin socket. */
export function instanceLockPath(socketPath: string): string {
  return join(dirname(socketPath), 'pald.lock');
}

/** What taking the lock needs from the addon. */
export interface InstanceLocker {
  lockExclusive(path: string): number | undefined;
}

/**
 * Takes pald's instance lock (next to `socketPath`); returns the lock's
 * descriptor (close it to let the next pald start). Throws a StartupError when another pald runs.
 */
export async function claimInstance(locker: InstanceLocker, socketPath: string): Promise<number> {
  await prepareAdminDir(socketPath); // the lock lives in the admin socket's root-only directory
  const lock = instanceLockPath(socketPath);
  const fd = locker.lockExclusive(lock);
  if (fd === undefined) throw anotherPald(`it holds ${lock}`);
  return fd;
}
