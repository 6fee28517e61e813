import test from 'ava';
import { parseCgroupFile } from '../../../src/identity/index.js';

const A = 'fa2546a38baf39bb5fc4bcdc6ace0ea1062c7f056ca5e4eed7db2084ae66be9c';
const B = '26a0e1ef63e77641326906d99d36a6bed7d1c448f56306270eb6a8e9a2e38ea9';
const POD = 'pod0b2b6d4e-3f0e-4a6c-9a7a-1c2d3e4f5a6b';
const POD_SLICE = 'pod0b2b6d4e_3f0e_4a6c_9a7a_1c2d3e4f5a6b';

/** cgroup v1 with every controller on one path, as on this machine's containers. */
function v1(path: string, withUnified = true): string {
  const controllers = ['name=systemd', 'pids', 'blkio', 'freezer', 'devices', 'memory', 'cpuset', 'cpuacct', 'cpu'];
  const lines = controllers.map((c, i) => `${9 - i}:${c}:${path}`);
  if (withUnified) lines.push(`0::${path}`);
  return `${lines.join('\n')}\n`;
}

interface ContainerCase {
  readonly name: string;
  readonly text: string;
  readonly id: string;
  readonly runtime: string;
  readonly paths: readonly string[];
}

const containers: ContainerCase[] = [
  { name: 'docker cgroupfs, cgroup v1', text: v1(`/docker/${A}`), id: A, runtime: 'docker', paths: [`/docker/${A}`] },
  {
    name: 'docker systemd driver, cgroup v2',
    text: `0::/system.slice/docker-${A}.scope\n`,
    id: A,
    runtime: 'docker',
    paths: [`/system.slice/docker-${A}.scope`],
  },
  {
    name: 'docker systemd driver, cgroup v1',
    text: `12:pids:/system.slice/docker-${A}.scope\n11:memory:/system.slice/docker-${A}.scope\n1:name=systemd:/system.slice/docker-${A}.scope\n`,
    id: A,
    runtime: 'docker',
    paths: [`/system.slice/docker-${A}.scope`],
  },
  {
    name: 'docker cgroupfs, cgroup v2 (no trailing newline)',
    text: `0::/docker/${A}`,
    id: A,
    runtime: 'docker',
    paths: [`/docker/${A}`],
  },
  {
    name: 'kubernetes cgroupfs driver, burstable pod',
    text: v1(`/kubepods/burstable/${POD}/${A}`),
    id: A,
    runtime: 'kubernetes',
    paths: [`/kubepods/burstable/${POD}/${A}`],
  },
  {
    name: 'kubernetes cgroupfs driver, guaranteed pod',
    text: `0::/kubepods/${POD}/${A}\n`,
    id: A,
    runtime: 'kubernetes',
    paths: [`/kubepods/${POD}/${A}`],
  },
  {
    name: 'containerd CRI, systemd driver, burstable slice',
    text: `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-${POD_SLICE}.slice/cri-containerd-${A}.scope\n`,
    id: A,
    runtime: 'containerd',
    paths: [`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-${POD_SLICE}.slice/cri-containerd-${A}.scope`],
  },
  {
    name: 'containerd CRI, systemd driver, besteffort slice',
    text: `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-${POD_SLICE}.slice/cri-containerd-${A}.scope\n`,
    id: A,
    runtime: 'containerd',
    paths: [
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-${POD_SLICE}.slice/cri-containerd-${A}.scope`,
    ],
  },
  {
    name: 'containerd CRI as nested by kind: slice:cri-containerd:id',
    text: `0::/system.slice/containerd.service/kubepods-besteffort-${POD_SLICE}.slice:cri-containerd:${A}\n`,
    id: A,
    runtime: 'containerd',
    paths: [`/system.slice/containerd.service/kubepods-besteffort-${POD_SLICE}.slice:cri-containerd:${A}`],
  },
  {
    name: 'kubelet on docker with the systemd driver',
    text: `0::/kubepods.slice/kubepods-${POD_SLICE}.slice/docker-${A}.scope\n`,
    id: A,
    runtime: 'docker',
    paths: [`/kubepods.slice/kubepods-${POD_SLICE}.slice/docker-${A}.scope`],
  },
  {
    name: 'CRI-O, systemd driver',
    text: `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-${POD_SLICE}.slice/crio-${A}.scope\n`,
    id: A,
    runtime: 'cri-o',
    paths: [`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-${POD_SLICE}.slice/crio-${A}.scope`],
  },
  {
    name: 'CRI-O, cgroupfs driver',
    text: v1(`/kubepods/besteffort/${POD}/crio-${A}`, false),
    id: A,
    runtime: 'cri-o',
    paths: [`/kubepods/besteffort/${POD}/crio-${A}`],
  },
  {
    name: 'CRI-O seen from inside a cgroup namespace',
    text: `0::/../crio-${A}.scope\n`,
    id: A,
    runtime: 'cri-o',
    paths: [`/../crio-${A}.scope`],
  },
  {
    name: 'podman rootful, systemd driver',
    text: `0::/machine.slice/libpod-${A}.scope\n`,
    id: A,
    runtime: 'podman',
    paths: [`/machine.slice/libpod-${A}.scope`],
  },
  {
    name: 'podman with the init in a container sub-cgroup',
    text: `0::/machine.slice/libpod-${A}.scope/container\n`,
    id: A,
    runtime: 'podman',
    paths: [`/machine.slice/libpod-${A}.scope`],
  },
  {
    name: 'podman rootless, user slice',
    text: `0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${A}.scope\n`,
    id: A,
    runtime: 'podman',
    paths: [`/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${A}.scope`],
  },
  {
    name: 'podman cgroupfs driver',
    text: `0::/libpod_parent/libpod-${A}\n`,
    id: A,
    runtime: 'podman',
    paths: [`/libpod_parent/libpod-${A}`],
  },
  {
    name: 'Docker-in-Docker: innermost id wins',
    text: v1(`/docker/${B}/docker/${A}`),
    id: A,
    runtime: 'docker',
    paths: [`/docker/${B}/docker/${A}`],
  },
  {
    name: 'kind node: pod inside a docker container, innermost wins',
    text: `0::/docker/${B}/kubepods/besteffort/${POD}/${A}\n`,
    id: A,
    runtime: 'kubernetes',
    paths: [`/docker/${B}/kubepods/besteffort/${POD}/${A}`],
  },
  {
    name: 'kind node with systemd driver',
    text: `0::/docker/${B}/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-${POD_SLICE}.slice/cri-containerd-${A}.scope\n`,
    id: A,
    runtime: 'containerd',
    paths: [
      `/docker/${B}/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-${POD_SLICE}.slice/cri-containerd-${A}.scope`,
    ],
  },
  {
    name: 'systemd running inside the container: a child cgroup of it',
    text: `0::/docker/${A}/init.scope\n`,
    id: A,
    runtime: 'docker',
    paths: [`/docker/${A}`],
  },
  {
    name: 'docker --cgroup-parent elsewhere',
    text: v1(`/ci-jobs/${A}`),
    id: A,
    runtime: 'unknown',
    paths: [`/ci-jobs/${A}`],
  },
  {
    name: 'hybrid hierarchy: v1 cgroupfs lines and a v2 systemd line agree',
    text: `4:memory:/docker/${A}\n1:name=systemd:/docker/${A}\n0::/system.slice/docker-${A}.scope\n`,
    id: A,
    runtime: 'docker',
    paths: [`/docker/${A}`, `/system.slice/docker-${A}.scope`],
  },
  {
    name: "this machine's sandbox memory line next to a container's other lines",
    text: `5:devices:/docker/${A}\n4:memory:/process_api/21841176b9038cae45e853176fdc4c58\n0::/docker/${A}\n`,
    id: A,
    runtime: 'docker',
    paths: [`/docker/${A}`],
  },
];

for (const c of containers) {
  test(`container: ${c.name}`, (t) => {
    const verdict = parseCgroupFile(c.text);
    t.deepEqual(verdict, { kind: 'container', containerId: c.id, runtime: c.runtime, paths: c.paths });
  });
}

const hosts: Array<{ name: string; text: string }> = [
  { name: 'pure cgroup v2 root', text: '0::/\n' },
  { name: 'cgroup v1 all at root', text: v1('/') },
  {
    name: "this machine's host process: sandbox memory cgroup with a 32-hex id",
    text: '9:name=systemd:/\n8:pids:/\n4:memory:/process_api/21841176b9038cae45e853176fdc4c58\n1:cpu:/\n0::/\n',
  },
  { name: 'a systemd service', text: '0::/system.slice/sshd.service\n' },
  { name: 'a user session', text: '0::/user.slice/user-1000.slice/session-3.scope\n' },
  { name: 'dockerd itself', text: '0::/system.slice/docker.service\n' },
  { name: 'containerd', text: '0::/system.slice/containerd.service\n' },
  { name: 'init scope', text: '0::/init.scope\n' },
  { name: 'a path with a colon in it', text: '0::/system.slice/weird:name.service\n' },
];

for (const c of hosts) {
  test(`host: ${c.name}`, (t) => {
    t.deepEqual(parseCgroupFile(c.text), { kind: 'host' });
  });
}

const unknowns: Array<{ name: string; text: string; reason: RegExp }> = [
  { name: 'empty file', text: '', reason: /empty/ },
  { name: 'only a newline', text: '\n', reason: /not "id:controllers:path"/ },
  { name: 'garbage', text: 'hello world\n', reason: /not "id:controllers:path"/ },
  { name: 'non-numeric hierarchy', text: `x:memory:/docker/${A}\n`, reason: /not "id:controllers:path"/ },
  { name: 'relative path', text: `0::docker/${A}\n`, reason: /relative path/ },
  {
    name: 'a garbage line among good ones',
    text: `4:memory:/docker/${A}\nnonsense\n0::/docker/${A}\n`,
    reason: /line 2/,
  },
  {
    name: 'lines naming different containers',
    text: `4:memory:/docker/${A}\n0::/docker/${B}\n`,
    reason: /different containers/,
  },
  {
    name: 'v1 and v2 naming different containers in different shapes',
    text: `4:memory:/docker/${A}\n0::/system.slice/docker-${B}.scope\n`,
    reason: /different containers/,
  },
  { name: 'docker id one char short', text: `0::/docker/${A.slice(1)}\n`, reason: /wrong length/ },
  { name: 'docker id one char long', text: `0::/docker/${A}0\n`, reason: /id-like/ },
  { name: 'docker short id (12)', text: `0::/docker/${A.slice(0, 12)}\n`, reason: /wrong length/ },
  { name: 'upper-case hex id', text: `0::/docker/${A.toUpperCase()}\n`, reason: /id-like/ },
  { name: 'non-hex 64-char id', text: `0::/docker/${A.slice(0, 63)}g\n`, reason: /wrong length/ },
  {
    name: 'scope with a short id',
    text: `0::/system.slice/docker-${A.slice(0, 63)}.scope\n`,
    reason: /no valid 64-hex/,
  },
  {
    name: 'scope with a non-hex id',
    text: `0::/system.slice/docker-${A.slice(0, 63)}z.scope\n`,
    reason: /no valid 64-hex/,
  },
  {
    name: 'cri-containerd scope with a long id',
    text: `0::/k.slice/cri-containerd-${A}ab.scope\n`,
    reason: /no valid 64-hex/,
  },
  { name: 'a .mount unit named after a container', text: `0::/system.slice/docker-${A}.mount\n`, reason: /id-like/ },
  {
    name: 'an overlay .mount unit',
    text: `0::/system.slice/var-lib-docker-overlay2-${A}-merged.mount\n`,
    reason: /id-like/,
  },
  { name: 'a .service named after an id', text: `0::/system.slice/${A}.service\n`, reason: /id-like/ },
  { name: 'podman conmon (systemd)', text: `0::/machine.slice/libpod-conmon-${A}.scope\n`, reason: /runtime monitor/ },
  { name: 'CRI-O conmon', text: `0::/kubepods.slice/crio-conmon-${A}.scope\n`, reason: /runtime monitor/ },
  {
    name: 'a systemd-nspawn machine',
    text: '0::/machine.slice/machine-debian.scope/payload\n',
    reason: /manager pal cannot query/,
  },
  { name: 'an LXC container (cgroup v2 payload)', text: '0::/lxc.payload.web1\n', reason: /manager pal cannot query/ },
  { name: 'an LXC container (legacy /lxc/<name>)', text: '4:memory:/lxc/web1\n', reason: /manager pal cannot query/ },
  { name: 'kubepods short id', text: `0::/kubepods/burstable/${POD}/${A.slice(0, 40)}\n`, reason: /wrong length/ },
  { name: 'oversized file', text: `0::/${'a'.repeat(70_000)}\n`, reason: /too large/ },
  { name: 'too many lines', text: '0::/\n'.repeat(300), reason: /too many lines/ },
  {
    name: 'a bad inner id does not fall back to the outer one',
    text: `0::/docker/${B}/docker/${A.slice(2)}\n`,
    reason: /wrong length/,
  },
];

for (const c of unknowns) {
  test(`unknown: ${c.name}`, (t) => {
    const verdict = parseCgroupFile(c.text);
    t.is(verdict.kind, 'unknown');
    if (verdict.kind === 'unknown') t.regex(verdict.reason, c.reason);
  });
}

test('hostile input never throws and is bounded in the reason', (t) => {
  const inputs = [
    '\u0000',
    '0:',
    '::',
    '0::',
    '\n\n\n',
    `0::/${'\u2028'.repeat(10)}`,
    ':'.repeat(1000),
    `0::/docker/${'f'.repeat(10_000)}`,
  ];
  for (const input of inputs) {
    const verdict = parseCgroupFile(input);
    t.not(verdict.kind, 'container', JSON.stringify(input.slice(0, 30)));
    if (verdict.kind === 'unknown') t.true(verdict.reason.length < 400);
  }
  t.deepEqual(parseCgroupFile(undefined as unknown as string), { kind: 'unknown', reason: 'cgroup file is not text' });
});
