// A private podman for integration tests: `podman system service` (the Docker-compatible API pald
// talks to through its Docker client) on a unix socket in a temp dir, with its own storage root,
// run root and tmp dir, the cgroupfs manager and file events (no systemd here). The podman CLI
// shares that storage, so tests create containers with it. Stopped by pid, even on failure.

import { spawn, spawnSync, execFile, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  copyFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';

export interface TestPodman {
  /** unix:///…/podman.sock, for pald's docker.host. */
  readonly host: string;
  /** podman CLI on this instance's storage; resolves trimmed stdout, rejects with stderr. */
  podman(...args: string[]): Promise<string>;
  /** A busybox-static image made with `podman import`, with config labels. */
  importBusyboxImage(ref: string, labels?: Record<string, string>): Promise<string>;
  cleanup(): Promise<void>;
}

export function podmanInstalled(): boolean {
  return spawnSync('podman', ['--version'], { timeout: 10_000 }).status === 0;
}

export async function startPodman(): Promise<TestPodman> {
  const dir = mkdtempSync('/tmp/pal-podman-');
  const socket = join(dir, 'podman.sock');
  const logFile = join(dir, 'service.log');
  const globals = [
    '--root',
    join(dir, 'root'),
    '--runroot',
    join(dir, 'run'),
    '--tmpdir',
    join(dir, 'tmp'),
    '--storage-driver',
    'vfs',
    '--cgroup-manager',
    'cgroupfs',
    '--events-backend',
    'file',
  ];
  const env = { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: dir };
  const log = openSync(logFile, 'a');
  const child: ChildProcess = spawn('podman', [...globals, 'system', 'service', '--time=0', `unix://${socket}`], {
    stdio: ['ignore', log, log],
    env,
  });
  closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => {});

  const podman = (...args: string[]): Promise<string> =>
    new Promise((resolve, reject) =>
      execFile('podman', [...globals, ...args], { env, timeout: 120_000 }, (e, out, err) =>
        e ? reject(new Error(`podman ${args.join(' ')}: ${err || e.message}`)) : resolve(out.trim()),
      ),
    );

  let cleaned = false;
  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    await podman('rm', '--all', '--force', '--time', '0').catch(() => '');
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[4] ?? '')
      .filter((p) => p.startsWith(`${dir}/`))
      .sort((a, b) => b.length - a.length);
    for (const path of mounts) spawnSync('umount', ['-l', path], { timeout: 10_000 });
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 30_000;
  while (!(await ping(socket))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const text = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '';
      await cleanup();
      throw new Error(`podman system service did not answer on ${socket}: ${text}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    host: `unix://${socket}`,
    podman,
    async importBusyboxImage(ref, labels = {}) {
      const rootfs = mkdtempSync(join(dir, 'rootfs-'));
      mkdirSync(join(rootfs, 'bin'));
      copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
      for (const tool of ['sh', 'cat', 'sleep']) symlinkSync('busybox', join(rootfs, 'bin', tool));
      for (const d of ['run', 'proc', 'sys', 'dev', 'etc', 'tmp']) mkdirSync(join(rootfs, d));
      const tar = `${rootfs}.tar`;
      spawnSync('tar', ['--owner=0', '--group=0', '-C', rootfs, '-cf', tar, '.'], { timeout: 60_000 });
      const changes = Object.entries(labels).flatMap(([k, v]) => ['--change', `LABEL ${k}=${v}`]);
      const id = await podman('import', ...changes, tar, ref);
      rmSync(rootfs, { recursive: true, force: true });
      rmSync(tar, { force: true });
      return id;
    },
    cleanup,
  };
}

function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}
