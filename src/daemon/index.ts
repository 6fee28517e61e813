export { startDaemon, StartupError, type DaemonOptions, type RunningDaemon } from './daemon.js';
export { parseAdminRequest, type AdminRequest, type AdminResponse } from './admin-protocol.js';
export { parseMountInfo, prepareMountpoint } from './mountinfo.js';
export { DEFAULT_PALD_FUSE_THREADS, paldFuseThreads } from './fuse-threads.js';
export { paldFusePassthrough } from './fuse-passthrough.js';
export type { Explanation } from './explain.js';
export { systemdNotifier, notifySocketProblem, type SystemdNotifier, type DatagramSender } from './sd-notify.js';
