// A pod's uid is in its cgroup path, written by the kernel when kubelet's runtime placed the
// process: /kubepods/<qos>/pod<uid>/<id> (cgroupfs driver) or
// kubepods-<qos>-pod<uid with _ for ->.slice/… (systemd driver). The CRI runtime's sandbox record
// names the pod too; the two must agree, or the caller is not who the runtime says.

import type { PodRef } from '../runtime.js';

const UUID = '[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}';
const CGROUPFS_POD = new RegExp(`^pod(${UUID})$`);
const SYSTEMD_POD = new RegExp(`^kubepods(?:-[a-z]+)*-pod(${UUID})\\.slice$`);

/** The pod uids named along a cgroup path (normally one), dashes restored. */
export function podUidsInCgroupPath(path: string): string[] {
  const uids: string[] = [];
  for (const segment of path.split('/')) {
    const uid = CGROUPFS_POD.exec(segment)?.[1] ?? SYSTEMD_POD.exec(segment)?.[1];
    if (uid !== undefined) uids.push(uid.replaceAll('_', '-'));
  }
  return uids;
}

/** Why a container's cgroup paths do not belong to its pod, or undefined when every one does. */
export function podCgroupProblem(pod: PodRef, paths: readonly string[]): string | undefined {
  for (const path of paths) {
    const uids = podUidsInCgroupPath(path);
    const innermost = uids[uids.length - 1];
    if (innermost === undefined) {
      return `pod ${pod.namespace}/${pod.name}: cgroup ${JSON.stringify(path.slice(0, 200))} names no pod uid`;
    }
    if (innermost !== pod.uid) {
      return `pod ${pod.namespace}/${pod.name}: its runtime says uid ${pod.uid}, its cgroup says ${innermost}`;
    }
  }
  return undefined;
}
