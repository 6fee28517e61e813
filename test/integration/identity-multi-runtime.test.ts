// Docker and a Kubernetes node's CRI runtime configured together: the caller's cgroup shape says
// which to ask first, each attributes its own containers, and one being down does not deny the
// other's callers (an id only the missing one could know fails closed, with its reason).

import test from 'ava';
import { createIdentityResolver, type ResolverWithDiagnostics } from '../../src/identity/index.js';
import { startContainerd, type TestContainerd } from '../../scripts/components/containerd.js';
import { startDockerd, type TestDockerd } from '../../scripts/components/dockerd.js';
import { waitFor } from '../helpers/wait.js';

let dockerd: TestDockerd | undefined;
let containerd: TestContainerd | undefined;
let resolver: ResolverWithDiagnostics | undefined;

test.before(async () => {
  [dockerd, containerd] = await Promise.all([startDockerd(), startContainerd()]);
  await dockerd.importBusyboxImage('pal-multi/app:1', { 'pal.labels': 'a' });
  await containerd.importImage('docker.io/paltest/multi:1', { 'pal.labels': 'b' });
  resolver = createIdentityResolver({ dockerHost: dockerd.host, criAddress: containerd.address });
  await waitFor('both runtimes connected', async () => resolver!.status().reachable);
});

test.after.always(async () => {
  await resolver?.close();
  await Promise.allSettled([dockerd?.cleanup(), containerd?.cleanup()]);
});

async function dockerRun(name: string): Promise<{ id: string; pid: number }> {
  const id = await dockerd!.docker('run', '-d', '--network', 'none', '--name', name, 'pal-multi/app:1', 'sleep', '600');
  return { id, pid: Number(await dockerd!.docker('inspect', '-f', '{{.State.Pid}}', id)) };
}

test.serial('each runtime attributes its own; the CRI one down fails only its unseen pods closed', async (t) => {
  const web = await dockerRun('multi-web');
  const api = await containerd!.runPod({ namespace: 'payments', name: 'api', image: 'docker.io/paltest/multi:1' });
  const late = await containerd!.runPod({ namespace: 'payments', name: 'late', image: 'docker.io/paltest/multi:1' });

  const fromDocker = await resolver!.resolve({ pid: web.pid, uid: 0, gid: 0 });
  t.like(fromDocker, { kind: 'container', containerId: web.id, name: 'multi-web' });
  t.is(fromDocker.pod, undefined);
  t.like(await resolver!.resolve({ pid: api.pid, uid: 0, gid: 0 }), {
    kind: 'container',
    runtime: 'containerd',
    pod: { namespace: 'payments', name: 'api', uid: api.uid },
  });

  await containerd!.stop();
  await waitFor('the set to report the CRI runtime gone', async () => !resolver!.status().reachable);
  const other = await dockerRun('multi-other');
  t.like(await resolver!.resolve({ pid: other.pid, uid: 0, gid: 0 }), { kind: 'container', containerId: other.id });
  const denied = await resolver!.resolve({ pid: late.pid, uid: 0, gid: 0 });
  t.is(denied.kind, 'unknown');
  t.regex(denied.reason ?? '', /CRI runtime unreachable/);

  await containerd!.start();
  await waitFor('both runtimes connected again', async () => resolver!.status().reachable, { timeoutMs: 30_000 });
  t.like(await resolver!.resolve({ pid: late.pid, uid: 0, gid: 0 }), { kind: 'container', pod: { name: 'late' } });
});
