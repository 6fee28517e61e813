import test from 'ava';
import { podCgroupProblem, podUidsInCgroupPath } from '../../../src/identity/cri/pod-cgroup.js';

const UID = '6f2c1c8e-1d2b-4a8e-9a51-0c7a1b2c3d4e';
const ID = 'a'.repeat(64);
const pod = { namespace: 'payments', name: 'api', uid: UID, container: 'app' };

test('pod uids in both kubelet cgroup drivers', (t) => {
  t.deepEqual(podUidsInCgroupPath(`/kubepods/besteffort/pod${UID}/${ID}`), [UID]);
  t.deepEqual(podUidsInCgroupPath(`/kubepods/pod${UID}/${ID}`), [UID]);
  t.deepEqual(
    podUidsInCgroupPath(
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replaceAll('-', '_')}.slice/cri-containerd-${ID}.scope`,
    ),
    [UID],
  );
  t.deepEqual(podUidsInCgroupPath(`/system.slice/docker-${ID}.scope`), []);
  t.deepEqual(podUidsInCgroupPath(`/kubepods/besteffort/podNOTAUUID/${ID}`), []);
});

test('the sandbox uid must be the one of the cgroup path', (t) => {
  t.is(podCgroupProblem(pod, [`/kubepods/besteffort/pod${UID}/${ID}`]), undefined);
  t.regex(
    podCgroupProblem(pod, [`/kubepods/besteffort/pod${UID.replace('6f', '00')}/${ID}`]) ?? '',
    /its runtime says uid 6f2c.*, its cgroup says 002c/,
  );
  t.regex(podCgroupProblem(pod, [`/libpod_parent/libpod-${ID}`]) ?? '', /names no pod uid/);
  // Nested (kind: a node in a container): the innermost pod is the caller's.
  const outer = '11111111-2222-4333-8444-555555555555';
  t.is(podCgroupProblem(pod, [`/kubepods/pod${outer}/x/kubepods/besteffort/pod${UID}/${ID}`]), undefined);
});
