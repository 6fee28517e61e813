// /proc/<pid>/cgroup: written by the kernel, but the path segments are chosen by whoever made the
// cgroup (a container with cgroup write access, a runtime, a user's systemd). Never throws.
import fc from 'fast-check';
import { parseCgroupFile } from '../../../src/identity/cgroup.js';
import { hostileText, showText } from '../mutate.js';
import { timed, type FuzzTarget, type Scale, type Shape } from '../target.js';

const A = 'fa2546a38baf39bb5fc4bcdc6ace0ea1062c7f056ca5e4eed7db2084ae66be9c';
const B = '26a0e1ef63e77641326906d99d36a6bed7d1c448f56306270eb6a8e9a2e38ea9';
const POD = 'pod0b2b6d4e-3f0e-4a6c-9a7a-1c2d3e4f5a6b';
const POD_SLICE = 'pod0b2b6d4e_3f0e_4a6c_9a7a_1c2d3e4f5a6b';

function v1(path: string): string {
  const controllers = ['name=systemd', 'pids', 'blkio', 'freezer', 'devices', 'memory', 'cpuset', 'cpuacct', 'cpu'];
  return `${[...controllers.map((c, i) => `${9 - i}:${c}:${path}`), `0::${path}`].join('\n')}\n`;
}

/** From test/unit/identity/cgroup.test.ts: every runtime's shape, host processes and near-misses. */
const SEEDS = [
  v1(`/docker/${A}`),
  `0::/system.slice/docker-${A}.scope\n`,
  `12:pids:/system.slice/docker-${A}.scope\n11:memory:/system.slice/docker-${A}.scope\n1:name=systemd:/system.slice/docker-${A}.scope\n`,
  `0::/docker/${A}`,
  v1(`/kubepods/burstable/${POD}/${A}`),
  `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-${POD_SLICE}.slice/cri-containerd-${A}.scope\n`,
  `0::/system.slice/containerd.service/kubepods-besteffort-${POD_SLICE}.slice:cri-containerd:${A}\n`,
  `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-${POD_SLICE}.slice/crio-${A}.scope\n`,
  v1(`/kubepods/besteffort/${POD}/crio-${A}`),
  `0::/machine.slice/libpod-${A}.scope/container\n`,
  `0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${A}.scope\n`,
  `0::/libpod_parent/libpod-${A}\n`,
  `0::/machine.slice/libpod-conmon-${A}.scope\n`,
  v1(`/docker/${B}/docker/${A}`),
  `0::/docker/${B}/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-${POD_SLICE}.slice/cri-containerd-${A}.scope\n`,
  `5:devices:/docker/${A}\n4:memory:/process_api/21841176b9038cae45e853176fdc4c58\n0::/docker/${A}\n`,
  '9:name=systemd:/\n8:pids:/\n4:memory:/process_api/21841176b9038cae45e853176fdc4c58\n1:cpu:/\n0::/\n',
  '0::/user.slice/user-1000.slice/session-3.scope\n',
  '0::/system.slice/weird:name.service\n',
  '0::/machine.slice/machine-test.scope\n',
  '0::/lxc.payload.c1\n',
  `4:memory:/docker/${A}\n0::/system.slice/docker-${B}.scope\n`,
  `0::/docker/${A.toUpperCase()}\n`,
  `0::/docker/${A.slice(0, 60)}\n`,
];

const TOKENS = [
  A,
  B,
  `docker-${A}.scope`,
  `cri-containerd-${A}`,
  `crio-`,
  'libpod-',
  '.slice',
  '.scope',
  ':cri-containerd:',
  'kubepods',
  'docker',
  'lxc',
  'machine-',
  `/${A}`,
  'a/',
  '/.',
  '/..',
];

function shapes(scale: Scale): Array<Shape<string>> {
  const n = scale === 'full' ? 30000 : 3000;
  return [
    { name: `21.7 "0::/" + "a/" × ${n}`, input: `0::/${'a/'.repeat(n)}` },
    { name: `21.7 "0::/" + "a/" × ${n} + id`, input: `0::/${'a/'.repeat(n)}${A}\n` },
    { name: `21.7 "0::/docker/" × ${Math.floor(n / 4)}`, input: `0::${'/docker'.repeat(Math.floor(n / 4))}/${A}\n` },
    { name: `21.7 "//" × ${n}`, input: `0::/${'/'.repeat(n)}\n` },
    { name: `21.7 "lxc/" × ${n}`, input: `0::/${'lxc/'.repeat(n)}x\n` },
    {
      name: `21.7 "kubepods/" × ${Math.floor(n / 4)} + short hex`,
      input: `0::/${'kubepods/'.repeat(Math.floor(n / 4))}${'a'.repeat(40)}\n`,
    },
    { name: '64 KiB of one line', input: `0::/${'a'.repeat(64 * 1024 - 5)}` },
    { name: '256 lines', input: `0::/docker/${A}\n`.repeat(256) },
    { name: '257 lines', input: `0::/docker/${A}\n`.repeat(257) },
    { name: 'hex run of 63..65 in one segment', input: `0::/x${'a'.repeat(63)}/y${'b'.repeat(65)}\n` },
  ];
}

export const target: FuzzTarget<string> = {
  name: 'cgroup',
  covers: 'parseCgroupFile (src/identity/cgroup.ts)',
  accepts: [],
  shapes,
  arbitrary: () =>
    fc.oneof(
      { weight: 1, arbitrary: fc.constant('') },
      { weight: 30, arbitrary: hostileText(SEEDS, { tokens: TOKENS, maxLength: 96 * 1024 }) },
    ),
  check(text) {
    const v = timed(() => parseCgroupFile(text));
    switch (v.kind) {
      case 'host':
        return undefined;
      case 'unknown':
        return typeof v.reason === 'string' && v.reason.length > 0 && v.reason.length < 2000
          ? undefined
          : `unknown without a bounded reason (${String(v.reason).length} chars)`;
      case 'container':
        if (!/^[0-9a-f]{64}$/.test(v.containerId)) return `container id ${JSON.stringify(v.containerId)} is not 64 hex`;
        if (
          !Array.isArray(v.paths) ||
          v.paths.length === 0 ||
          !v.paths.every((p) => typeof p === 'string' && p.startsWith('/') && p.includes(v.containerId))
        ) {
          return 'container paths are not absolute paths naming the id';
        }
        return undefined;
      default:
        return `unexpected verdict ${JSON.stringify(v).slice(0, 100)}`;
    }
  },
  show: showText,
};
