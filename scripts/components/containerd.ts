// A private containerd with its CRI plugin for integration tests, driven over CRI the way kubelet
// drives a node's runtime (see /work/shared/notes/containerd.md): its own root, state, sockets and
// config under a temp dir; hostNetwork pods (no CNI); the images (a busybox-static "pause" and
// workload images with config labels) built here as OCI layouts and imported with `ctr`, since
// nothing can be pulled from outside. Stopped by pid, even on failure.

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { spawn, spawnSync, execFile, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  rmdirSync,
  symlinkSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PROTO = fileURLToPath(new URL('../../../scripts/components/cri-kubelet.proto', import.meta.url));
const READY_TIMEOUT_MS = 60_000;
export const PAUSE_IMAGE = 'docker.io/paltest/pause:1';
const ARCH = process.arch === 'arm64' ? 'arm64' : 'amd64';

export interface TestPod {
  readonly sandboxId: string;
  /** The uid in the pod's cgroup path (the sandbox's own unless forged with sandboxUid). */
  readonly cgroupUid: string;
  readonly containerId: string;
  /** Host pid of the container's process. */
  readonly pid: number;
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
}

export interface PodSpec {
  readonly namespace: string;
  readonly name: string;
  readonly image: string;
  /** Container (CRI) labels: what kubelet would set, plus e.g. pal.labels for trust.mode none. */
  readonly labels?: Record<string, string>;
  /** Host path bind-mounted at /run/pal in the container (HostToContainer, as kubelet's hostPath). */
  readonly palMount?: string;
  /** The uid the sandbox reports (default: the one in the cgroup path): a different one forges a pod. */
  readonly sandboxUid?: string;
}

export interface TestContainerd {
  readonly address: string;
  readonly pid: number;
  /** Builds and imports a busybox image named `ref` whose config holds `labels`; returns its repo digest ref. */
  importImage(ref: string, labels?: Record<string, string>): Promise<string>;
  /** RunPodSandbox + CreateContainer + StartContainer, as kubelet would for a one-container pod. */
  runPod(spec: PodSpec): Promise<TestPod>;
  /** ExecSync in the pod's container: stdout, stderr, exit code. */
  exec(pod: TestPod, cmd: readonly string[]): Promise<{ stdout: string; stderr: string; code: number }>;
  removePod(pod: TestPod): Promise<void>;
  /** SIGTERM containerd (the pods' shims and processes keep running). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Removes every pod, stops containerd, unmounts and removes its dirs; safe to call twice. */
  cleanup(): Promise<void>;
}

type Unary = (
  req: object,
  meta: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (e: Error | null, r?: unknown) => void,
) => void;

export async function startContainerd(): Promise<TestContainerd> {
  // Short: socket paths are limited to 108 bytes.
  const dir = mkdtempSync('/tmp/pal-ctrd-');
  const address = join(dir, 'c.sock');
  const logFile = join(dir, 'containerd.log');
  const config = join(dir, 'config.toml');
  writeFileSync(
    config,
    [
      'version = 2',
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      '[grpc]',
      `  address = "${address}"`,
      '[ttrpc]',
      `  address = "${address}.ttrpc"`,
      '[debug]',
      `  address = "${dir}/debug.sock"`,
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${dir}/opt"`,
      '[plugins."io.containerd.grpc.v1.cri"]',
      '  restrict_oom_score_adj = true',
      `  sandbox_image = "${PAUSE_IMAGE}"`,
      '  stream_server_port = "0"',
      '  [plugins."io.containerd.grpc.v1.cri".cni]',
      `    bin_dir = "${dir}/cni/bin"`,
      `    conf_dir = "${dir}/cni/conf"`,
      '',
    ].join('\n'),
  );

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const pods: TestPod[] = [];
  let cleaned = false;

  const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    runtime: { v1: { RuntimeService: grpc.ServiceClientConstructor } };
  };
  const client = new pkg.runtime.v1.RuntimeService(`unix://${address}`, grpc.credentials.createInsecure());
  const call = (method: string, req: object, timeoutMs = 60_000): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const fn = (client as unknown as Record<string, Unary>)[method]!;
      fn.call(client, req, new grpc.Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (e, r) =>
        e ? reject(new Error(`CRI ${method}: ${e.message}`)) : resolve(r as Record<string, unknown>),
      );
    });

  const start = async (): Promise<void> => {
    const log = openSync(logFile, 'a');
    const proc = spawn('containerd', ['--config', config], {
      stdio: ['ignore', log, log],
      env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    closeSync(log);
    child = proc;
    let exitInfo: string | undefined;
    exited = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        exitInfo = `exit ${code ?? signal}`;
        resolve();
      }),
    );
    proc.once('error', (e) => (exitInfo = `spawn failed: ${e.message}`));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (exitInfo !== undefined) throw new Error(`containerd ${exitInfo}; log:\n${tail(logFile)}`);
      try {
        await call('Version', { version: 'v1' }, 2_000);
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`containerd not answering CRI; log:\n${tail(logFile)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };

  const ctr = (...args: string[]): Promise<string> =>
    new Promise((resolve, reject) =>
      execFile('ctr', ['--address', address, '--namespace', 'k8s.io', ...args], { timeout: 60_000 }, (e, out, err) =>
        e ? reject(new Error(`ctr ${args.join(' ')}: ${err || e.message}`)) : resolve(out),
      ),
    );

  const importImage = async (ref: string, labels: Record<string, string> = {}): Promise<string> => {
    const layout = mkdtempSync(join(dir, 'img-'));
    const { tarPath, manifestDigest } = buildOciImage(layout, ref, labels);
    // --base-name REPO names the import REPO:TAG, and --digests adds REPO@sha256:… (the repo digest).
    await ctr('images', 'import', '--digests', '--base-name', ref.slice(0, ref.lastIndexOf(':')), tarPath);
    rmSync(layout, { recursive: true, force: true });
    return `${ref.replace(/:[^:/]+$/, '')}@${manifestDigest}`;
  };

  const runPod = async (spec: PodSpec): Promise<TestPod> => {
    const cgroupUid = randomUUID();
    const uid = spec.sandboxUid ?? cgroupUid;
    const metadata = { name: spec.name, uid, namespace: spec.namespace, attempt: 0 };
    const sandboxConfig = {
      metadata,
      hostname: '',
      log_directory: join(dir, 'logs', uid),
      labels: {
        'io.kubernetes.pod.name': spec.name,
        'io.kubernetes.pod.namespace': spec.namespace,
        'io.kubernetes.pod.uid': uid,
      },
      linux: {
        cgroup_parent: `/kubepods/besteffort/pod${cgroupUid}`,
        security_context: { namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } },
      },
    };
    mkdirSync(sandboxConfig.log_directory, { recursive: true });
    const sandboxId = String((await call('RunPodSandbox', { config: sandboxConfig }))['pod_sandbox_id']);
    const pod = { sandboxId, cgroupUid, containerId: '', pid: 0, uid, namespace: spec.namespace, name: spec.name };
    pods.push(pod);
    const created = await call('CreateContainer', {
      pod_sandbox_id: sandboxId,
      sandbox_config: sandboxConfig,
      config: {
        metadata: { name: 'app', attempt: 0 },
        image: { image: spec.image },
        command: ['/bin/sleep', '3600'],
        log_path: 'app.log',
        labels: {
          'io.kubernetes.container.name': 'app',
          'io.kubernetes.pod.name': spec.name,
          'io.kubernetes.pod.namespace': spec.namespace,
          'io.kubernetes.pod.uid': uid,
          ...spec.labels,
        },
        mounts:
          spec.palMount !== undefined
            ? [{ container_path: '/run/pal', host_path: spec.palMount, propagation: 'PROPAGATION_HOST_TO_CONTAINER' }]
            : [],
        linux: { security_context: { namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } },
      },
    });
    const containerId = String(created['container_id']);
    await call('StartContainer', { container_id: containerId });
    const status = await call('ContainerStatus', { container_id: containerId, verbose: true });
    const info = JSON.parse(String((status['info'] as Record<string, string>)['info'])) as { pid: number };
    const running = { ...pod, containerId, pid: info.pid };
    pods[pods.indexOf(pod)] = running;
    return running;
  };

  const removePod = async (pod: TestPod): Promise<void> => {
    await call('StopPodSandbox', { pod_sandbox_id: pod.sandboxId });
    await call('RemovePodSandbox', { pod_sandbox_id: pod.sandboxId });
    removePodCgroups(pod.cgroupUid);
    const i = pods.findIndex((p) => p.sandboxId === pod.sandboxId);
    if (i >= 0) pods.splice(i, 1);
  };

  try {
    await start();
    await importImage(PAUSE_IMAGE);
  } catch (e) {
    await stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  return {
    address: `unix://${address}`,
    get pid() {
      return child?.pid ?? -1;
    },
    importImage,
    runPod,
    async exec(pod, cmd) {
      const r = await call('ExecSync', { container_id: pod.containerId, cmd, timeout: 20 });
      const s = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('utf8') : typeof v === 'string' ? v : '');
      return { stdout: s(r['stdout']), stderr: s(r['stderr']), code: Number(r['exit_code']) };
    },
    removePod,
    stop,
    start,
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      try {
        if (child === undefined || child.exitCode !== null) await start().catch(() => {});
        for (const pod of [...pods]) await removePod(pod).catch(() => {});
      } finally {
        await stop();
        client.close();
        // Snapshots and sandbox shm stay mounted under root/state until unmounted.
        await unmountUnder(dir);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** kubelet removes a pod's cgroup once its sandbox is gone; containerd does not: do it here. */
function removePodCgroups(uid: string): void {
  const roots = ['/sys/fs/cgroup', ...readdirSync('/sys/fs/cgroup').map((h) => join('/sys/fs/cgroup', h))];
  for (const root of roots) {
    try {
      rmdirSync(join(root, 'kubepods', 'besteffort', `pod${uid}`));
    } catch {
      // not in this hierarchy, or not empty yet: nothing of ours to remove
    }
  }
}

/** An OCI image layout (one busybox-static layer, a config with labels) tarred for `ctr images import`. */
function buildOciImage(
  layout: string,
  ref: string,
  labels: Record<string, string>,
): { tarPath: string; manifestDigest: string } {
  const rootfs = join(layout, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
  for (const tool of ['sh', 'cat', 'sleep', 'ls']) symlinkSync('busybox', join(rootfs, 'bin', tool));
  for (const d of ['run', 'proc', 'sys', 'dev', 'etc', 'tmp']) mkdirSync(join(rootfs, d));
  const blobs = join(layout, 'oci', 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const layerTar = join(layout, 'layer.tar');
  runSync('tar', ['--owner=0', '--group=0', '--numeric-owner', '-C', rootfs, '-cf', layerTar, '.']);
  const layer = readFileSync(layerTar);
  const put = (bytes: Buffer): { digest: string; size: number } => {
    const hex = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(blobs, hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const layerBlob = put(layer);
  const configBlob = put(
    Buffer.from(
      JSON.stringify({
        architecture: ARCH,
        os: 'linux',
        config: { Cmd: ['/bin/sleep', '3600'], Env: ['PATH=/bin'], Labels: labels },
        rootfs: { type: 'layers', diff_ids: [layerBlob.digest] },
      }),
    ),
  );
  const manifestBlob = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configBlob },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layerBlob }],
      }),
    ),
  );
  writeFileSync(join(layout, 'oci', 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(layout, 'oci', 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifestBlob,
          platform: { architecture: ARCH, os: 'linux' },
          annotations: { 'org.opencontainers.image.ref.name': ref.slice(ref.lastIndexOf(':') + 1) },
        },
      ],
    }),
  );
  const tarPath = join(layout, 'image.tar');
  runSync('tar', ['-C', join(layout, 'oci'), '-cf', tarPath, '.']);
  return { tarPath, manifestDigest: manifestBlob.digest };
}

function runSync(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || String(r.error ?? r.status)}`);
}

async function unmountUnder(dir: string): Promise<void> {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const path of mounts) spawnSync('umount', ['-l', path], { timeout: 10_000 });
}

function tail(file: string): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').split('\n').slice(-30).join('\n');
}
