// systemd's side of a restart without a new mount: the file-descriptor store. pald stores its
// /dev/fuse descriptor with `FDSTORE=1` + `FDNAME=pal-fuse` (the unit needs
// FileDescriptorStoreMax=1); on the next start systemd passes it back in LISTEN_FDS/LISTEN_FDNAMES
// (sd_listen_fds(3): descriptors from 3 on, LISTEN_PID must be ours).

export const FD_NAME = 'pal-fuse';
const SD_LISTEN_FDS_START = 3;

/** The descriptor named pal-fuse that systemd passed to this process, if any. */
export function listenedFuseFd(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  if (env['LISTEN_PID'] !== String(pid)) return undefined; // meant for another process
  const count = Number(env['LISTEN_FDS']);
  if (!Number.isInteger(count) || count < 1 || count > 64) return undefined;
  const names = (env['LISTEN_FDNAMES'] ?? '').split(':');
  const index = names.indexOf(FD_NAME);
  return index >= 0 && index < count ? SD_LISTEN_FDS_START + index : undefined;
}

/** sd_listen_fds(unset_environment=1): nothing pald starts must think the descriptors are its. */
export function forgetListenEnv(env: NodeJS.ProcessEnv): void {
  delete env['LISTEN_PID'];
  delete env['LISTEN_FDS'];
  delete env['LISTEN_FDNAMES'];
}

export const storeMessage = `FDSTORE=1\nFDNAME=${FD_NAME}`;
/** A real stop: systemd closes the stored descriptor, so the mount ends like before handover existed. */
export const removeMessage = `FDSTOREREMOVE=1\nFDNAME=${FD_NAME}`;
