// Starts a real pald (dist/src/cli/pald.js) as a child process for integration tests: its own
// temp dir for config, manifest, keys, audit log, admin socket and mountpoint. Stops it by pid.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { waitFor } from './wait.js';

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const PALD_JS = join(REPO, 'dist/src/cli/pald.js');
export const PAL_JS = join(REPO, 'dist/src/cli/pal.js');

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command, feeding `input` on stdin (never through a file: no plaintext on disk). */
export function runCommand(
  cmd: string,
  args: readonly string[],
  opts: { input?: Uint8Array | string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<CommandResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => {}); // the child may exit before reading everything
    child.stdin.end(opts.input ?? '');
  });
}

export function pal(args: readonly string[], opts: { input?: Uint8Array | string } = {}): Promise<CommandResult> {
  return runCommand(process.execPath, [PAL_JS, ...args], opts);
}

async function fuseMountedAt(path: string): Promise<boolean> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text.split('\n').some((line) => {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    return f[4] === path && sep > 0 && (f[sep + 1] ?? '').startsWith('fuse');
  });
}

async function fuseAnswers(path: string): Promise<boolean> {
  const { stat } = await import('node:fs/promises');
  if (!(await fuseMountedAt(path))) return false;
  try {
    await stat(path);
    return true;
  } catch {
    return false; // ENOTCONN: an inert layer whose daemon is gone
  }
}

async function anyMountAt(path: string): Promise<boolean> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text.split('\n').some((line) => line.split(' ')[4] === path);
}

export interface PaldOptions {
  /** "" = Docker off (with criAddress). */
  readonly dockerHost: string;
  /** `cri.address`: a Kubernetes node's CRI runtime. */
  readonly criAddress?: string;
  /** The `trust:` section of pald.yaml; default { mode: none }. */
  readonly trust?: Record<string, unknown>;
  readonly hostAllowUids?: readonly number[];
  /** `metrics.listen` (default: off). */
  readonly metricsListen?: string;
  readonly readyTimeoutMs?: number;
  /** More top-level sections of pald.yaml (e.g. `redoctober:`). */
  readonly extraConfig?: Record<string, unknown>;
  /** Extra environment for pald (e.g. NOTIFY_SOCKET). */
  readonly env?: NodeJS.ProcessEnv;
  /** Run pald-holder next to the admin socket before pald starts (restarts hand the mount over). */
  readonly holder?: boolean;
}

export interface TestPald {
  readonly dir: string;
  readonly mountpoint: string;
  readonly manifest: string;
  readonly keysDir: string;
  readonly publicKey: string;
  readonly adminSocket: string;
  readonly auditPath: string;
  readonly configPath: string;
  readonly pid: number;
  /** Everything pald printed so far. */
  output(): string;
  /** `pal seal` a secret (plaintext fed on stdin) into this pald's manifest. */
  seal(name: string, labels: readonly string[], plaintext: Uint8Array | string): Promise<void>;
  /** `pal <command>` against this pald's admin socket. */
  pal(...args: string[]): Promise<CommandResult>;
  /** Rewrites pald.yaml (e.g. host.allow_uids) and sends SIGHUP. */
  reconfigure(changes: { hostAllowUids?: readonly number[] }): Promise<void>;
  /** SIGTERM (SIGKILL after 10 s); resolves when exited and the FUSE mount is gone. */
  stop(): Promise<void>;
  /** SIGKILL: leaves a stale mount behind, as a crash would. */
  kill(): Promise<void>;
  /** Starts pald again with the same config; resolves on its ready line. */
  start(): Promise<void>;
  /** Sends `signal` and waits for pald to exit (no checks of the mount: a handover leaves it). */
  signal(signal: 'SIGTERM' | 'SIGKILL' | 'SIGINT'): Promise<void>;
  /** pid of pald-holder (-1 without `holder`). */
  readonly holderPid: number;
  /** stop + unmount the shared bind mount + remove the temp dir; safe to call twice. */
  cleanup(): Promise<void>;
}

export async function startPald(opts: PaldOptions): Promise<TestPald> {
  const dir = await mkdtemp(join(tmpdir(), 'pal-pald-'));
  const mountpoint = join(dir, 'mnt');
  const etc = join(dir, 'etc');
  const keysDir = join(etc, 'keys');
  const manifest = join(etc, 'secrets.yaml');
  const adminSocket = join(dir, 'run', 'admin.sock');
  const staging = join(dir, 'run', 'fs'); // pald mounts its session next to the admin socket
  const auditPath = join(dir, 'log', 'audit.log');
  const configPath = join(etc, 'pald.yaml');
  // Explicit modes, whatever the umask: pald refuses files others could change (SPEC File safety).
  await mkdir(mountpoint, { recursive: true, mode: 0o755 });
  await mkdir(keysDir, { recursive: true, mode: 0o700 });
  await writeFile(manifest, 'secrets: {}\n', { mode: 0o644 });

  const keygen = await runCommand(process.execPath, [PAL_JS, 'keygen', '--out', keysDir, '--name', 'host']);
  if (keygen.code !== 0) throw new Error(`pal keygen failed: ${keygen.stderr}`);
  const publicKey = join(keysDir, 'host.pub.asc');

  let allowUids = opts.hostAllowUids ?? [];
  const writeConfig = (): Promise<void> =>
    writeFile(
      configPath,
      stringify({
        mountpoint,
        manifest,
        keys: keysDir,
        docker: { host: opts.dockerHost },
        ...(opts.criAddress !== undefined ? { cri: { address: opts.criAddress } } : {}),
        trust: opts.trust ?? { mode: 'none' },
        admin: { socket: adminSocket },
        audit: { path: auditPath },
        host: { allow_uids: [...allowUids] },
        ...(opts.metricsListen ? { metrics: { listen: opts.metricsListen } } : {}),
        state_dir: join(dir, 'state'), // private: trust versions of one test never leak into another
        ...opts.extraConfig,
      }),
      { mode: 0o644 },
    );
  await writeConfig();

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let log = '';
  let cleaned = false;
  let expectingExit = false;
  let holder: ChildProcess | undefined;
  if (opts.holder) {
    await mkdir(join(dir, 'run'), { recursive: true, mode: 0o700 });
    const exe = join(REPO, 'native/build/Release/pald-holder');
    const h = spawn(exe, [join(dir, 'run', 'holder.sock')], { stdio: ['ignore', 'ignore', 'pipe'] });
    holder = h;
    h.stderr?.on('data', (b: Buffer) => (log += `[holder] ${b.toString('utf8')}`));
    await waitFor('pald-holder to listen', async () => log.includes('pald-holder: listening'), { timeoutMs: 10_000 });
  }
  const stopHolder = async (): Promise<void> => {
    const h = holder;
    if (!h || h.exitCode !== null || h.signalCode !== null) return;
    const gone = new Promise((r) => h.once('exit', r));
    h.kill('SIGTERM');
    await gone;
  };

  const start = async (): Promise<void> => {
    expectingExit = false;
    // PALD_NODE_ARGS: extra node flags for pald (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
    const nodeArgs = (process.env.PALD_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const c = spawn(process.execPath, [...nodeArgs, PALD_JS, '--config', configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    child = c;
    exited = new Promise((r) =>
      c.once('exit', (code, signal) => {
        log += `[pald exited: ${code ?? signal}]\n`;
        // An exit nobody asked for is the first thing to know when a test fails.
        if (!expectingExit && !process.env.PALD_DEBUG)
          process.stderr.write(`pald (pid ${c.pid}) exited unexpectedly:\n${log}`);
        r();
      }),
    );
    await new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`pald not ready within ${opts.readyTimeoutMs ?? 60_000} ms:\n${log}`)),
        opts.readyTimeoutMs ?? 60_000,
      );
      const from = log.length; // a restart must print its own ready line
      const onData = (b: Buffer): void => {
        log += b.toString('utf8');
        if (process.env.PALD_DEBUG) process.stderr.write(b);
        if (log.indexOf('pald: ready on ', from) >= 0) {
          clearTimeout(timer);
          resolveReady();
        }
      };
      c.stdout.on('data', onData);
      c.stderr.on('data', onData);
      c.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`pald exited (${code ?? signal}) before ready:\n${log}`));
      });
    });
  };

  const waitExit = async (timeoutMs: number): Promise<boolean> =>
    Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs))]);

  const pald: TestPald = {
    dir,
    mountpoint,
    manifest,
    keysDir,
    publicKey,
    adminSocket,
    auditPath,
    configPath,
    get pid() {
      return child?.pid ?? -1;
    },
    output: () => log,
    async seal(name, labels, plaintext) {
      const args = [
        'seal',
        '--name',
        name,
        '--key',
        publicKey,
        '--manifest',
        manifest,
        ...labels.flatMap((l) => ['--label', l]),
      ];
      const r = await runCommand(process.execPath, [PAL_JS, ...args], { input: plaintext });
      if (r.code !== 0) throw new Error(`pal seal ${name} failed (${r.code}): ${r.stderr}`);
    },
    pal: (...args) => runCommand(process.execPath, [PAL_JS, ...args, '--admin-socket', adminSocket]),
    async reconfigure(changes) {
      if (changes.hostAllowUids) allowUids = changes.hostAllowUids;
      await writeConfig();
      const marker = (log.match(/pald: reloaded/g) ?? []).length;
      child?.kill('SIGHUP');
      await waitFor('pald to reload', async () => (log.match(/pald: reloaded/g) ?? []).length > marker);
    },
    async stop() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      expectingExit = true;
      c.kill('SIGTERM');
      if (!(await waitExit(10_000))) {
        c.kill('SIGKILL');
        await waitExit(10_000);
      }
      // The session must be gone: nothing mounted in pald's staging dir, nothing answering at the
      // mountpoint (an inert layer stays there on purpose, for rslave containers; see docs/operations.md).
      if (await fuseMountedAt(staging))
        throw new Error(`pald exited but its session at ${staging} is still mounted:\n${log}`);
      if (await fuseAnswers(mountpoint))
        throw new Error(`pald exited but a FUSE filesystem still answers at ${mountpoint}:\n${log}`);
    },
    async kill() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      expectingExit = true;
      c.kill('SIGKILL');
      await waitExit(10_000);
    },
    start,
    async signal(sig) {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      expectingExit = true;
      c.kill(sig);
      if (!(await waitExit(20_000))) throw new Error(`pald did not exit on ${sig}:\n${log}`);
    },
    get holderPid() {
      return holder?.pid ?? -1;
    },
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      try {
        await stopHolder(); // first: with nobody keeping the mount, pald's SIGTERM unmounts
        await pald.stop();
      } finally {
        // pald leaves its layers at the mountpoint (and a killed one its session in the staging
        // dir): remove them all, top first.
        for (const path of [mountpoint, staging]) {
          for (let i = 0; i < 100 && (await anyMountAt(path)); i++)
            await runCommand('umount', ['-l', '--no-canonicalize', path]);
        }
        await rm(dir, { recursive: true, force: true });
      }
    },
  };

  try {
    await start();
  } catch (e) {
    await pald.cleanup().catch(() => {});
    throw e;
  }
  return pald;
}

/**
 * Files under `roots` whose bytes contain `needle` (for "plaintext never on disk" checks).
 * Skips /proc, /sys, every FUSE mount (reading another test's FUSE mount could hang), sockets,
 * devices and fifos; reads regular files only, in chunks, with an overlap so no match is lost.
 */
export async function filesContaining(
  roots: readonly string[],
  needle: Buffer,
  opts: { maxFileBytes?: number; skip?: readonly string[] } = {},
): Promise<string[]> {
  const { lstat, readdir, open } = await import('node:fs/promises');
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const skip = new Set<string>(['/proc', '/sys', '/dev', ...(opts.skip ?? [])]);
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep > 0 && (f[sep + 1] ?? '').startsWith('fuse') && f[4]) skip.add(f[4].replace(/\\040/g, ' '));
  }
  const maxFileBytes = opts.maxFileBytes ?? 512 * 1024 * 1024;
  const hits: string[] = [];
  const chunk = Buffer.alloc(1 << 20);
  const walk = async (path: string): Promise<void> => {
    if (skip.has(path)) return;
    let st;
    try {
      st = await lstat(path);
    } catch {
      return; // vanished meanwhile
    }
    if (st.isDirectory()) {
      let names: string[];
      try {
        names = await readdir(path);
      } catch {
        return;
      }
      for (const n of names) await walk(join(path, n));
      return;
    }
    if (!st.isFile() || st.size < needle.length || st.size > maxFileBytes) return;
    let fh;
    try {
      fh = await open(path, 'r');
    } catch {
      return;
    }
    try {
      let carry = Buffer.alloc(0);
      for (;;) {
        const { bytesRead } = await fh.read(chunk, 0, chunk.length, null);
        if (bytesRead === 0) break;
        const window = Buffer.concat([carry, chunk.subarray(0, bytesRead)]);
        if (window.includes(needle)) {
          hits.push(path);
          break;
        }
        carry = Buffer.from(window.subarray(Math.max(0, window.length - needle.length + 1)));
      }
    } catch {
      // unreadable file (e.g. a file being deleted): nothing to find in it
    } finally {
      await fh.close();
    }
  };
  for (const root of roots) await walk(root);
  return hits;
}
