// The identity of a container looked up by id or name (`pal explain`): no caller and no pid are
// involved, so pid/tgid are the container's init (0 when it is not running) and uid/gid are the
// init's, or -1 when there is no process. A running container goes through the same record a
// caller in it would get; a stopped one is explained from the runtime's answer alone.

import { errorMessage } from '../shared/error-message.js';
import type { ContainerRecords } from './container-records.js';
import { readStatusIds } from './procfs.js';
import type { ContainerRuntime, RuntimeContainer, RuntimeImage } from './runtime.js';
import type { Identity } from './types.js';

export interface ContainerInspectDeps {
  readonly runtime: ContainerRuntime;
  readonly records: ContainerRecords;
  readonly procRoot: string;
}

const NOBODY = { pid: 0, tgid: 0, uid: -1, gid: -1 } as const;

/** Never throws: failures come back as kind 'unknown' with a reason. */
export async function inspectContainerIdentity(deps: ContainerInspectDeps, idOrName: string): Promise<Identity> {
  try {
    let container: RuntimeContainer;
    try {
      container = await deps.runtime.inspectContainer(idOrName);
    } catch (err) {
      return { kind: 'unknown', ...NOBODY, reason: errorMessage(err) };
    }
    if (container.running && container.pid > 0) return await runningContainer(deps, container);
    return await stoppedContainer(deps, container);
  } catch (err) {
    return { kind: 'unknown', ...NOBODY, reason: `inspect failed: ${errorMessage(err)}` };
  }
}

async function runningContainer(deps: ContainerInspectDeps, container: RuntimeContainer): Promise<Identity> {
  const loaded = await deps.records.load(container.id);
  if ('reason' in loaded)
    return { kind: 'unknown', ...NOBODY, containerId: container.id, name: container.name, reason: loaded.reason };
  const { record } = loaded;
  let ids = { uid: -1, gid: -1 };
  try {
    ids = readStatusIds(deps.procRoot, record.initPid);
  } catch {
    // The init just exited; its uid/gid are not essential to an explanation.
  }
  return {
    ...record.base,
    pid: record.initPid,
    tgid: record.initPid,
    uid: ids.uid,
    gid: ids.gid,
    startTime: record.initStartTime,
  };
}

async function stoppedContainer(deps: ContainerInspectDeps, container: RuntimeContainer): Promise<Identity> {
  let image: RuntimeImage | undefined;
  try {
    image = await deps.records.image(container.imageId);
  } catch {
    image = undefined; // deleted with -f while the container remains: explain what we can
  }
  return {
    kind: 'container',
    ...NOBODY,
    containerId: container.id,
    name: container.name,
    imageId: container.imageId,
    imageRef: container.imageRef,
    repoTags: image?.repoTags ?? [],
    repoDigests: image?.repoDigests ?? [],
    imageLabels: image?.labels ?? {},
    runtimeLabels: Object.fromEntries(Object.entries(container.labels).filter(([k, v]) => image?.labels[k] !== v)),
    reason: 'container is not running',
  };
}
