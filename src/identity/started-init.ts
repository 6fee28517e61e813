// A container attributed at its start (pre-attribution.ts) named as a caller: its init process with
// the uid and gid the kernel gives that process's requests (its filesystem ids). The warm path
// attests it ahead of the container's first open (src/fs/view-state.ts sponsor), so that the
// container's first process is answered in C like any later one. The ids only choose which of the
// container's processes that answer can serve (the addon adopts a process only with the very same
// uid and gid); JS decides for exactly the ids given, as for any request.

import { parseStatusFsIds, readProcFile, readStat } from './procfs.js';
import type { ContainerRecord } from './container-records.js';
import type { StartedContainer } from './types.js';

/** The record's init as a caller; undefined when it is gone, its pid was reused, or its ids are unreadable. */
export function startedInit(procRoot: string, record: ContainerRecord): StartedContainer | undefined {
  try {
    const ids = parseStatusFsIds(readProcFile(procRoot, record.initPid, 'status'));
    // Read after the ids: the same start time means the ids were the init's (a pid is reused only once its process is gone).
    if (ids === undefined || readStat(procRoot, record.initPid).startTime !== record.initStartTime) return undefined;
    return { containerId: record.id, pid: record.initPid, uid: ids.uid, gid: ids.gid };
  } catch {
    return undefined;
  }
}
