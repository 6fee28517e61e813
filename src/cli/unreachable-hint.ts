// What `pal` says when pald's admin socket does not answer (exit 3): the cause the error code
// points at, and how to start pald or reach the right socket.

/** Lines for stderr after "cannot reach pald at SOCKET: CODE". */
export function unreachableHint(code: string | undefined): string {
  if (code === 'EACCES' || code === 'EPERM')
    return `The admin socket is for root only (pald checks SO_PEERCRED): run pal as root, e.g. sudo pal …`;
  const elsewhere = `If pald runs with another admin.socket in pald.yaml, pass it: --admin-socket PATH.`;
  if (code === 'ETIMEDOUT')
    return `pald is running but did not answer in time: see its log (journalctl -u pald, docker logs pald).\n${elsewhere}`;
  return [
    `pald is not running${code === 'ECONNREFUSED' ? ' (a socket file from an earlier run is left)' : ''}. Start it with one of:`,
    `  systemctl start pald                   # systemd (docker/pald.service)`,
    `  docker start pald                      # a container (docker/pald.Dockerfile, docker/compose.yaml)`,
    `  pald --config /etc/pal/pald.yaml       # in the foreground`,
    `then check its log (journalctl -u pald, docker logs pald); \`pald --check-config\` validates the config.`,
    elsewhere,
  ].join('\n');
}
