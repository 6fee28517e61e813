// sd_notify(3) for `Type=notify` under systemd: one datagram per state change to $NOTIFY_SOCKET.
// Node has no AF_UNIX datagram sockets and the npm wrappers (sd-notify, unix-dgram) are native
// modules that would need their own install scripts, so the send is one small function of pal's
// own addon. Without $NOTIFY_SOCKET (not under systemd) every call is a no-op.

/** Sends `message` as one datagram to the unix socket `path` (`@name`: abstract namespace). */
export type DatagramSender = (path: string, message: string) => void;

export interface SystemdNotifier {
  /** The mount is usable: systemd marks the unit started (`systemctl start` returns). */
  ready(status: string): void;
  /** SIGHUP: reloading; `ready` again when done. */
  reloading(): void;
  /** SIGTERM/SIGINT: shutting down. */
  stopping(): void;
}

/** What systemd's notify socket may be: an absolute path or an abstract name, shorter than sun_path. */
export function notifySocketProblem(socket: string): string | undefined {
  if (!/^[/@]/.test(socket)) return `NOTIFY_SOCKET "${socket}" is neither an absolute path nor @abstract`;
  if (Buffer.byteLength(socket) >= 108) return 'NOTIFY_SOCKET is longer than a unix socket path may be';
  return undefined;
}

/**
 * A notifier for the socket in `env.NOTIFY_SOCKET`, or one that does nothing when it is unset.
 * A failed send is logged, never thrown: systemd's start timeout is the judge of a missing READY.
 */
export function systemdNotifier(
  env: NodeJS.ProcessEnv,
  send: DatagramSender,
  log: (line: string) => void,
  pid: number = process.pid,
  monotonicMicros: () => bigint = () => process.hrtime.bigint() / 1000n,
): SystemdNotifier {
  const socket = env['NOTIFY_SOCKET'];
  const problem = socket === undefined || socket === '' ? undefined : notifySocketProblem(socket);
  if (problem) log(`pald: sd_notify disabled: ${problem}`);
  const notify = (message: string): void => {
    if (socket === undefined || socket === '' || problem) return;
    try {
      send(socket, message);
    } catch (err) {
      log(`pald: sd_notify ${message.split('\n')[0]}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  // Newlines would start another assignment in the datagram: a status is one line.
  const oneLine = (text: string): string => text.replace(/[\r\n]+/g, ' ');
  return {
    ready: (status) => notify(`READY=1\nSTATUS=${oneLine(status)}\nMAINPID=${pid}`),
    // MONOTONIC_USEC lets systemd >= 253 (Type=notify-reload) match the reload to this message.
    reloading: () => notify(`RELOADING=1\nMONOTONIC_USEC=${monotonicMicros()}`),
    stopping: () => notify('STOPPING=1'),
  };
}
