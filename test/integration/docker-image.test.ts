// docker/pald.Dockerfile built and run here, where nothing can be pulled: a Debian base made with
// debootstrap from this machine's apt mirror (cached: test/helpers/debian-base.ts) is imported into
// a private dockerd, the image is built from it (npm ci reaches the npm registry through the
// build's host network), and pald runs in a container with exactly the privileges the Dockerfile
// documents. Then the demo's pair: a container labelled `demo` reads the secret, another gets
// nothing; `pal status` on the host reaches pald through the bound admin socket.
import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, statSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { startDockerd } from '../../scripts/components/dockerd.js';
import { runCommand, PAL_JS } from '../helpers/pald.js';
import { waitFor } from '../helpers/wait.js';
import { BASE_IMAGE_CHANGES, debianBaseProblem, debianBaseTarball } from '../helpers/debian-base.js';

const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

function mountedAt(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === path);
}

/** FUSE mounts at `path` in this (the host's) mount namespace. */
function fuseLayersAt(path: string): number {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line.split(' ')[4] === path && /^fuse/.test(line.split(' - ')[1] ?? '')).length;
}

function statErrorCode(path: string): string | undefined {
  try {
    statSync(path);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code;
  }
}

/** This process's hard RLIMIT_MEMLOCK in bytes (dockerd, started by us, inherits it). */
function hardMemlockLimit(): number {
  const line = /^Max locked memory\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return line?.[1] === undefined || line[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(line[1]);
}

function appArmorEnabled(): boolean {
  try {
    return readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
  } catch {
    return false;
  }
}

test('pald.Dockerfile builds from a local Debian base and pald serves the demo pair from its container', async (t) => {
  t.timeout(45 * 60_000); // a first run makes the base with debootstrap; later runs reuse it
  const problem = debianBaseProblem();
  if (problem) return t.fail(`cannot make a Debian base image here: ${problem}`);
  let started = Date.now();
  const tarball = await debianBaseTarball((line) => t.log(line));
  t.log(`base tarball ${tarball} ready in ${Math.round((Date.now() - started) / 1000)} s`);

  const dockerd = await startDockerd();
  t.teardown(() => dockerd.cleanup());
  const tag = `t${randomBytes(4).toString('hex')}`;
  /** docker build on the private daemon with the classic builder (no buildx plugin here); its
   * output (stdout: the steps) is in the error when it fails. */
  const build = (args: string[]): Promise<void> =>
    new Promise((res, rej) => {
      execFile(
        'docker',
        ['-H', dockerd.host, 'build', ...args],
        { env: { ...process.env, DOCKER_BUILDKIT: '0' }, maxBuffer: 64 * 1024 * 1024, timeout: 30 * 60_000 },
        (err, stdout, stderr) =>
          err
            ? rej(new Error(`docker build ${args.join(' ')}:\n${String(stdout).slice(-6000)}\n${String(stderr)}`))
            : res(),
      );
    });
  const base = `pal-test-base:${tag}`;
  await dockerd.docker('import', ...BASE_IMAGE_CHANGES.flatMap((c) => ['--change', c]), tarball, `${base}-plain`);
  // This machine reaches the npm registry through whatever its CA bundle trusts (its npm is set
  // to use that bundle): the build gets the same bundle, as any build host would provide its own.
  const caContext = mkdtempSync('/tmp/pal-image-ca-');
  try {
    copyFileSync(HOST_CA_BUNDLE, join(caContext, 'ca.crt'));
    writeFileSync(
      join(caContext, 'Dockerfile'),
      `FROM ${base}-plain\nCOPY ca.crt ${HOST_CA_BUNDLE}\nENV npm_config_cafile=${HOST_CA_BUNDLE}\n`,
    );
    await build(['-t', base, caContext]);
  } finally {
    rmSync(caContext, { recursive: true, force: true });
  }

  started = Date.now();
  const image = `pald:${tag}`;
  await build([
    '--network',
    'host',
    '-f',
    join(REPO, 'docker/pald.Dockerfile'),
    '--build-arg',
    `BUILD_BASE=${base}`,
    '--build-arg',
    `RUN_BASE=${base}`,
    '-t',
    image,
    REPO,
  ]);
  t.log(`image built in ${Math.round((Date.now() - started) / 1000)} s`);

  // The host side: /etc/pal, /run/pal (a shared mount, as on a systemd host), /run/pald, logs, state.
  const work = mkdtempSync('/tmp/pal-image-');
  const hostMount = join(work, 'run/pal');
  t.teardown(() => {
    for (let i = 0; i < 64 && mountedAt(hostMount); i++) execFileSync('umount', ['-l', hostMount]);
    rmSync(work, { recursive: true, force: true });
  });
  const etc = join(work, 'etc/pal');
  for (const d of [hostMount, etc, join(work, 'run/pald'), join(work, 'log/pal'), join(work, 'lib/pal')])
    mkdirSync(d, { recursive: true, mode: 0o755 });
  execFileSync('mount', ['--bind', hostMount, hostMount]);
  execFileSync('mount', ['--make-shared', hostMount]);
  t.is(fuseLayersAt(hostMount), 0);
  const keygen = await runCommand(process.execPath, [PAL_JS, 'keygen', '--out', join(etc, 'keys'), '--name', 'host']);
  t.is(keygen.code, 0, keygen.stderr);
  const secret = `s3cr3t-${randomBytes(8).toString('hex')}`;
  const seal = await runCommand(
    process.execPath,
    [
      PAL_JS,
      'seal',
      '--name',
      'db-password',
      '--label',
      'demo',
      '--key',
      join(etc, 'keys/host.pub.asc'),
      '--manifest',
      join(etc, 'secrets.yaml'),
    ],
    { input: secret },
  );
  t.is(seal.code, 0, seal.stderr);
  // The Dockerfile's 128 MiB memlock, unless dockerd cannot raise its own hard limit that far
  // (raising it needs CAP_SYS_RESOURCE, which the test machines' root lacks): then that limit,
  // with limits.locked_bytes below it as operations.md says.
  const memlock = Math.min(128 * 1024 * 1024, hardMemlockLimit());
  const lockedBytes = Math.min(64 * 1024 * 1024, memlock - 1024 * 1024);
  // Paths as pald sees them inside its container (the defaults, spelled out).
  writeFileSync(
    join(etc, 'pald.yaml'),
    stringify({
      mountpoint: '/run/pal',
      manifest: '/etc/pal/secrets.yaml',
      keys: '/etc/pal/keys',
      docker: { host: 'unix:///var/run/docker.sock' },
      trust: { mode: 'none' },
      admin: { socket: '/run/pald/admin.sock' },
      audit: { path: '/var/log/pal/audit.log' },
      state_dir: '/var/lib/pal',
      limits: { locked_bytes: lockedBytes, secret_bytes: 1024 * 1024 },
    }),
    { mode: 0o644 },
  );

  // The image's pald validates the mounted config without mounting anything (as ExecStartPre= does).
  const check = await dockerd.docker(
    'run',
    '--rm',
    '--network',
    'none',
    '-v',
    `${etc}:/etc/pal:ro`,
    image,
    '--check-config',
  );
  t.regex(check, /pald: configuration OK/);

  // Exactly the privileges docker/pald.Dockerfile documents, no more.
  const paldName = `pald-${tag}`;
  await dockerd.docker(
    'run',
    '-d',
    '--name',
    paldName,
    '--pid=host',
    '--device',
    '/dev/fuse',
    '--cap-drop',
    'ALL',
    '--cap-add',
    'SYS_ADMIN',
    ...(appArmorEnabled() ? ['--security-opt', 'apparmor=unconfined'] : []),
    '--ulimit',
    `memlock=${memlock}`,
    '--network',
    'none',
    '-v',
    `${dockerd.socketPath}:/var/run/docker.sock:ro`,
    '-v',
    `${hostMount}:/run/pal:rshared`,
    '-v',
    `${etc}:/etc/pal:ro`,
    '-v',
    `${join(work, 'lib/pal')}:/var/lib/pal`,
    '-v',
    `${join(work, 'log/pal')}:/var/log/pal`,
    '-v',
    `${join(work, 'run/pald')}:/run/pald`,
    image,
  );
  // pald logs on stderr; `docker logs` replays it on its own stderr.
  const paldLogs = (): Promise<string> =>
    new Promise((res) =>
      execFile('docker', ['-H', dockerd.host, 'logs', paldName], (_e, out, err) => res(String(out) + String(err))),
    );
  await waitFor(
    'pald ready in its container',
    async () => {
      const state = await dockerd.docker('inspect', '-f', '{{.State.Running}}', paldName);
      if (state !== 'true') throw new Error(`pald's container stopped:\n${await paldLogs()}`);
      const logs = await paldLogs();
      return logs.includes('pald: ready on /run/pal');
    },
    { timeoutMs: 60_000 },
  );
  t.is(fuseLayersAt(hostMount), 1, 'the FUSE mount made in the container propagated to the host');

  // The demo's pair, with trust.mode none (development): labels from the image config.
  const app = await dockerd.importBusyboxImage(`pal-demo-app:${tag}`, { 'pal.labels': 'demo' });
  const other = await dockerd.importBusyboxImage(`pal-demo-other:${tag}`);
  const mount = `${hostMount}:/run/pal:ro,rslave`;
  await dockerd.docker('run', '-d', '--name', `app-${tag}`, '--network', 'none', '-v', mount, app, 'sleep', '600');
  await dockerd.docker('run', '-d', '--name', `other-${tag}`, '--network', 'none', '-v', mount, other, 'sleep', '600');
  t.is(await dockerd.docker('exec', `app-${tag}`, 'cat', '/run/pal/db-password'), secret);
  t.is(await dockerd.docker('exec', `other-${tag}`, 'ls', '/run/pal'), '');
  await t.throwsAsync(dockerd.docker('exec', `other-${tag}`, 'cat', '/run/pal/db-password'), {
    message: /No such file or directory/,
  });

  // The host's pal reaches pald in its container through /run/pald.
  const adminSocket = join(work, 'run/pald/admin.sock');
  const status = await runCommand(process.execPath, [PAL_JS, 'status', '--json', '--admin-socket', adminSocket]);
  t.is(status.code, 0, status.stderr);
  t.is((JSON.parse(status.stdout) as { mounted?: unknown }).mounted, true);
  const explain = await runCommand(process.execPath, [
    PAL_JS,
    'explain',
    `other-${tag}`,
    'db-password',
    '--admin-socket',
    adminSocket,
  ]);
  t.is(explain.code, 1, explain.stdout + explain.stderr);
  const audit = readFileSync(join(work, 'log/pal/audit.log'), 'utf8');
  t.regex(audit, /"decision":"allow"/);
  t.regex(audit, /"decision":"deny"/);
  t.false(audit.includes(secret));

  // SIGTERM (docker stop): pald unmounts and exits 0.
  await dockerd.docker('stop', '-t', '30', paldName);
  t.is(await dockerd.docker('inspect', '-f', '{{.State.ExitCode}}', paldName), '0', await paldLogs());
  // Today's restart behaviour (operations.md): the dead session's layer stays at /run/pal, inert,
  // for the next pald to stack on.
  t.is(fuseLayersAt(hostMount), 1);
  t.is(statErrorCode(hostMount), 'ENOTCONN');
});
