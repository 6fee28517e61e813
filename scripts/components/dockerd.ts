// A private Docker engine for the integration tests, the bench and the demo: its own data root, exec
// root, pid file and unix socket under a temp dir, its own containerd (started by that dockerd), no
// bridge and no iptables. Several run side by side (ava runs test files in parallel). Images are made
// locally from busybox-static with `docker import` (there is no registry to pull from). The demo may
// instead use an engine that is already running (useDockerEngine), which it never stops.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  rmdirSync,
  symlinkSync,
} from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { unmountUnder } from './mounts.js';

/** A Docker engine to run the docker CLI against: a private one (TestDockerd) or one already running. */
export interface DockerEngine {
  readonly host: string;
  /** docker CLI against this daemon; resolves stdout (trimmed); rejects with stderr on non-zero exit. */
  docker(...args: string[]): Promise<string>;
  /** A busybox-static image made with `docker import` (no pulls), with image config labels; returns image id (sha256:…). */
  importBusyboxImage(tag: string, labels?: Record<string, string>): Promise<string>;
  /** Remove what this handle made on the host (for an engine it did not start: its temp dir only); safe twice. */
  cleanup(): Promise<void>;
}

export interface TestDockerd extends DockerEngine {
  readonly socketPath: string;
  readonly dataRoot: string;
  readonly pid: number;
  /** SIGTERM the daemon we started and wait for it to exit. */
  stop(): Promise<void>;
  /** Start again on the same data root and socket; resolves when it answers. */
  start(): Promise<void>;
  /** stop + remove temp dirs; safe to call twice. */
  cleanup(): Promise<void>;
}

const BUSYBOX = '/bin/busybox';
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

export interface StartDockerdOptions {
  /** Keep containers running while the daemon is stopped (dockerd --live-restore). */
  readonly liveRestore?: boolean;
}

export async function startDockerd(options: StartDockerdOptions = {}): Promise<TestDockerd> {
  // Short path: unix socket paths are limited to 108 bytes, and containerd nests its own under exec-root.
  const dir = mkdtempSync('/tmp/pal-dockerd-');
  const socketPath = join(dir, 'docker.sock');
  const dataRoot = join(dir, 'data');
  const execRoot = join(dir, 'exec');
  const pidFile = join(dir, 'docker.pid');
  const logFile = join(dir, 'dockerd.log');
  const cliConfig = join(dir, 'cli');
  mkdirSync(cliConfig);
  const host = `unix://${socketPath}`;

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let cleaned = false;

  const launch = async (): Promise<void> => {
    const log = openSync(logFile, 'a');
    const proc = spawn(
      'dockerd',
      [
        '--data-root',
        dataRoot,
        '--exec-root',
        execRoot,
        '--pidfile',
        pidFile,
        '--host',
        host,
        '--iptables=false',
        '--ip-masq=false',
        '--bridge=none',
        '--userland-proxy=false',
        // Containers that ignore SIGTERM (sleep as pid 1) are killed after 2 s, not 10.
        '--shutdown-timeout=2',
        ...(options.liveRestore === true ? ['--live-restore'] : []),
      ],
      // Ignore DOCKER_HOST & co. of the test's environment: this daemon is configured by flags only.
      { stdio: ['ignore', log, log], env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin' } },
    );
    closeSync(log);
    child = proc;
    let exitInfo: string | undefined;
    exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        exitInfo = `exit code ${code} signal ${signal}`;
        if (child === proc) child = undefined;
        resolve();
      });
    });
    proc.once('error', (err) => {
      exitInfo = `spawn failed: ${err.message}`;
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (exitInfo !== undefined) throw new Error(`dockerd ${exitInfo} before answering; log:\n${tail(logFile)}`);
      if (await ping(socketPath)) return;
      if (Date.now() > deadline) {
        await stopChild();
        throw new Error(`dockerd did not answer on ${host} within ${READY_TIMEOUT_MS} ms; log:\n${tail(logFile)}`);
      }
      await delay(100);
    }
  };

  const stopChild = async (): Promise<void> => {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };

  const { docker, importBusyboxImage } = dockerClient(host, cliConfig, dir);

  try {
    await launch();
  } catch (err) {
    // The caller gets no handle to clean up with: leave nothing behind.
    await stopChild();
    unmountUnder(dir);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    host,
    socketPath,
    dataRoot,
    get pid(): number {
      return child?.pid ?? 0;
    },
    docker,
    importBusyboxImage,
    stop: stopChild,
    async start(): Promise<void> {
      if (cleaned) throw new Error('dockerd was cleaned up');
      if (child !== undefined) return;
      await launch();
    },
    async cleanup(): Promise<void> {
      if (cleaned) return;
      cleaned = true;
      if (child === undefined && options.liveRestore === true) {
        // Live-restored containers outlive a stopped daemon: bring it back to remove them.
        await launch().catch(() => undefined);
      }
      let ids: string[] = [];
      if (child !== undefined) {
        // Containers this daemon runs: remove them while it still answers.
        ids = (await docker('ps', '-aq', '--no-trunc').catch(() => ''))
          .split('\n')
          .filter((id) => /^[0-9a-f]{64}$/.test(id));
        if (ids.length > 0) await docker('rm', '-f', ...ids).catch(() => '');
      }
      await stopChild();
      removeLeftoverCgroups(ids);
      unmountUnder(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The docker CLI against `host`, with its own CLI config dir, and the busybox image import; temp files in `dir`. */
function dockerClient(
  host: string,
  cliConfig: string,
  dir: string,
): Pick<DockerEngine, 'docker' | 'importBusyboxImage'> {
  const docker = (...args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile(
        'docker',
        ['-H', host, ...args],
        { env: dockerCliEnv(cliConfig), maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err) reject(new Error(`docker ${args.join(' ')}: ${stderr.trim() || err.message}`));
          else resolve(stdout.trim());
        },
      );
    });

  const importBusyboxImage = async (tag: string, labels: Record<string, string> = {}): Promise<string> => {
    const rootfs = mkdtempSync(join(dir, 'rootfs-'));
    try {
      mkdirSync(join(rootfs, 'bin'));
      for (const d of ['etc', 'tmp', 'proc', 'sys', 'dev', 'run', 'root']) mkdirSync(join(rootfs, d));
      copyFileSync(BUSYBOX, join(rootfs, 'bin', 'busybox'));
      chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
      for (const applet of await busyboxApplets()) {
        if (applet !== 'busybox' && !existsSync(join(rootfs, 'bin', applet)))
          symlinkSync('busybox', join(rootfs, 'bin', applet));
      }
      const changes = ['ENV PATH=/bin', 'CMD ["sh"]'];
      // JSON strings are valid double-quoted Dockerfile strings: any key or value survives.
      for (const [key, value] of Object.entries(labels))
        changes.push(`LABEL ${JSON.stringify(key)}=${JSON.stringify(value)}`);
      await runPipeline(
        'tar',
        ['-C', rootfs, '-c', '.'],
        'docker',
        ['-H', host, 'import', ...changes.flatMap((c) => ['--change', c]), '-', tag],
        dockerCliEnv(cliConfig),
      );
      return await docker('image', 'inspect', '-f', '{{.Id}}', tag);
    } finally {
      rmSync(rootfs, { recursive: true, force: true });
    }
  };
  return { docker, importBusyboxImage };
}

/**
 * An engine that is already running at `host` (e.g. the system's): the docker CLI against it with a CLI
 * config of its own. Nothing of the engine is stopped or removed by cleanup(); callers remove what they made.
 */
export async function useDockerEngine(host: string): Promise<DockerEngine> {
  const dir = mkdtempSync('/tmp/pal-docker-cli-');
  const cliConfig = join(dir, 'cli');
  mkdirSync(cliConfig);
  const client = dockerClient(host, cliConfig, dir);
  try {
    await client.docker('version', '--format', '{{.Server.Version}}');
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    host,
    ...client,
    async cleanup(): Promise<void> {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function dockerCliEnv(cliConfig: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: cliConfig };
  for (const key of ['DOCKER_HOST', 'DOCKER_CONTEXT', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH']) delete env[key];
  return env;
}

let appletList: Promise<string[]> | undefined;
function busyboxApplets(): Promise<string[]> {
  appletList ??= new Promise((resolve, reject) => {
    execFile(BUSYBOX, ['--list'], (err, stdout) => {
      if (err) reject(new Error(`${BUSYBOX} --list: ${err.message} (is busybox-static installed?)`));
      else resolve(stdout.split('\n').filter((a) => /^[a-z0-9_.[-]+$/.test(a)));
    });
  });
  return appletList;
}

/** `a | b`, rejecting with b's stderr (or a's) on failure. */
function runPipeline(
  cmdA: string,
  argsA: string[],
  cmdB: string,
  argsB: string[],
  envB: NodeJS.ProcessEnv,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const a = spawn(cmdA, argsA, { stdio: ['ignore', 'pipe', 'pipe'] });
    const b = spawn(cmdB, argsB, { stdio: ['pipe', 'ignore', 'pipe'], env: envB });
    a.stdout.pipe(b.stdin);
    let errA = '';
    let errB = '';
    a.stderr.on('data', (d: Buffer) => (errA += d.toString()));
    b.stderr.on('data', (d: Buffer) => (errB += d.toString()));
    let codeA: number | null | undefined;
    a.on('error', reject);
    b.on('error', reject);
    a.on('close', (code) => (codeA = code));
    b.on('close', (code) => {
      if (code === 0 && (codeA === 0 || codeA === undefined)) resolve();
      else reject(new Error(`${cmdA} | ${cmdB} failed: ${errB.trim() || errA.trim() || `exit ${code}`}`));
    });
  });
}

function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/**
 * Under heavy load a force-removed container can leave its (empty) cgroup directories behind
 * (cgroupfs driver). Remove those of our own containers: /sys/fs/cgroup/<hierarchy>/docker/<id>.
 */
function removeLeftoverCgroups(ids: readonly string[]): void {
  if (ids.length === 0) return;
  const hierarchies = ['/sys/fs/cgroup', ...safeReaddir('/sys/fs/cgroup').map((h) => `/sys/fs/cgroup/${h}`)];
  for (const hierarchy of hierarchies) {
    for (const id of ids) {
      try {
        rmdirSync(`${hierarchy}/docker/${id}`);
      } catch {
        // absent (the usual case) or still busy: nothing we may force
      }
    }
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '(no log)';
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
