// Caller identity: from a FUSE caller's pid to "container X running image Y", "host", or
// "unknown — deny". The only door into src/identity.

import { createCriRuntime } from './cri/cri-runtime.js';
import { createDockerRuntime } from './docker-runtime.js';
import { choosePinGuard } from './pin-guards.js';
import { createResolver, type ResolverWithDiagnostics } from './resolver.js';
import type { ContainerRuntime } from './runtime.js';
import type { PidfdOps } from './types.js';
import { createRuntimeSet } from './runtime-set.js';

export type * from './types.js';
export { parseCgroupFile } from './cgroup.js';
export { checkPidNamespace, type PidNamespaceCheck } from './procfs.js';
export type { ResolverWithDiagnostics } from './resolver.js';
export {
  createDockerArchiveReader,
  createDockerImageConfigReader,
  type ContainerArchiveReader,
  type ImageConfig,
} from './docker-image-files.js';

export interface IdentityResolverOptions {
  /** unix:///var/run/docker.sock, tcp://host:port, … (src/config resolves DOCKER_HOST); "" = no Docker. */
  readonly dockerHost: string;
  /** The CRI runtime of a Kubernetes node (containerd, CRI-O): unix:///run/containerd/containerd.sock. */
  readonly criAddress?: string;
  /** Where procfs is mounted; tests point it elsewhere. */
  readonly procRoot?: string;
  readonly log?: (msg: string) => void;
  /** Timeout of one Docker inspect, ms (default 5000). */
  readonly requestTimeoutMs?: number;
  /** The addon's pidfds (src/native `pidfds`): cached callers are pinned by pidfd where they work, else by stat fd. */
  readonly pidfds?: PidfdOps;
}

/**
 * The resolver the daemon uses. Throws only for a malformed dockerHost or criAddress, or neither. Identities returned by
 * inspectContainer() have no caller: pid/tgid are the container's init (0 when not running) and
 * uid/gid are the init's, or -1 when there is no process.
 */
export function createIdentityResolver(opts: IdentityResolverOptions): ResolverWithDiagnostics {
  const common = {
    ...(opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
    ...(opts.log !== undefined ? { log: opts.log } : {}),
  };
  const members: ContainerRuntime[] = [];
  if (opts.dockerHost !== '') members.push(createDockerRuntime({ dockerHost: opts.dockerHost, ...common }));
  if (opts.criAddress !== undefined) members.push(createCriRuntime({ address: opts.criAddress, ...common }));
  const runtime = createRuntimeSet(members);
  const pins = choosePinGuard(opts.procRoot ?? '/proc', opts.pidfds);
  opts.log?.(`identity: cached callers pinned by ${pins.guard.kind === 'pidfd' ? 'pidfd' : 'stat fd'} (${pins.why})`);
  return createResolver({
    runtime,
    pinGuard: pins.guard,
    ...(opts.procRoot !== undefined ? { procRoot: opts.procRoot } : {}),
    ...(opts.log !== undefined ? { log: opts.log } : {}),
  });
}
export { criAddressProblem } from './cri/address.js';
