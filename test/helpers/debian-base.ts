// A Debian base image made here, for building docker/pald.Dockerfile where nothing can be pulled:
// debootstrap from the apt mirror this machine already uses (read from its apt sources, never
// hard-coded), with this machine's node (the version pal runs on) copied in, as a tarball for
// `docker import`. The tarball is cached (it takes minutes to make; CI runs on 2 cores in 90 min):
// $PAL_TEST_CACHE, default /var/cache/pal-test, keyed by release, packages and node version.

import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';

/** Everything both stages of pald.Dockerfile install, so that its apt step finds nothing missing. */
export const BASE_PACKAGES = [
  // runtime
  'fuse3',
  'libfuse3-3',
  'ca-certificates',
  // build: node-gyp and the addon (libfuse3-dev's dependency is named explicitly: debootstrap
  // does not resolve the virtual libselinux-dev)
  'python3',
  'make',
  'g++',
  'pkg-config',
  'libfuse3-dev',
  'libselinux1-dev',
] as const;

export interface AptSource {
  readonly uri: string;
  readonly suite: string;
}

/** Debian's own archive among the machine's apt sources (one-line and deb822 formats): `suite` exactly, component main. */
export function debianMirror(sources: readonly string[], codename: string): AptSource | undefined {
  const entries: { uris: string[]; suites: string[]; components: string[] }[] = [];
  for (const text of sources) {
    if (/^\s*Types:/im.test(text)) {
      for (const block of text.split(/\n\s*\n/)) {
        const field = (name: string): string[] =>
          (new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(block)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
        if (field('Types').includes('deb'))
          entries.push({ uris: field('URIs'), suites: field('Suites'), components: field('Components') });
      }
    } else {
      for (const line of text.split('\n')) {
        const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$/.exec(line);
        if (m) entries.push({ uris: [m[1]!], suites: [m[2]!], components: m[3]!.trim().split(/\s+/) });
      }
    }
  }
  const entry = entries.find((e) => e.suites.includes(codename) && e.components.includes('main') && e.uris.length);
  return entry ? { uri: entry.uris[0]!, suite: codename } : undefined;
}

function machineAptSources(): string[] {
  const files = ['/etc/apt/sources.list'];
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir))
    files.push(
      ...readdirSync(dir)
        .filter((f) => /\.(list|sources)$/.test(f))
        .map((f) => join(dir, f)),
    );
  return files.filter((f) => existsSync(f)).map((f) => readFileSync(f, 'utf8'));
}

function codename(): string {
  const m = /^VERSION_CODENAME=(\S+)$/m.exec(readFileSync('/etc/os-release', 'utf8'));
  if (!m) throw new Error('/etc/os-release has no VERSION_CODENAME');
  return m[1]!.replace(/"/g, '');
}

function run(cmd: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${String(stderr).slice(-4000)}`));
      else resolve(String(stdout));
    });
  });
}

/** Why a base cannot be made here, or undefined. */
export function debianBaseProblem(): string | undefined {
  if (!existsSync('/usr/sbin/debootstrap')) return 'debootstrap is not installed (scripts/install-deps.sh installs it)';
  if (!existsSync('/etc/os-release') || !/^ID=debian$/m.test(readFileSync('/etc/os-release', 'utf8')))
    return 'this machine is not Debian: no Debian mirror in its apt sources';
  if (!debianMirror(machineAptSources(), codename()))
    return `no Debian mirror for ${codename()} in /etc/apt/sources.list*`;
  return undefined;
}

/**
 * Path of the cached base tarball, made now if missing (debootstrap: several minutes, once per
 * machine and key). `log` hears what is happening: it is the slow step of the suite.
 */
export async function debianBaseTarball(log: (line: string) => void): Promise<string> {
  const release = codename();
  const mirror = debianMirror(machineAptSources(), release);
  if (!mirror) throw new Error(`no Debian mirror for ${release} in /etc/apt/sources.list*`);
  const cacheDir = process.env['PAL_TEST_CACHE'] ?? '/var/cache/pal-test';
  mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  const key = createHash('sha256')
    .update(JSON.stringify({ release, packages: BASE_PACKAGES, node: process.version }))
    .digest('hex')
    .slice(0, 16);
  const tarball = join(cacheDir, `debian-${release}-pal-${key}.tar`);
  if (existsSync(tarball)) return tarball;

  const work = mkdtempSync(join(cacheDir, 'make-'));
  try {
    const rootfs = join(work, 'rootfs');
    log(`making ${tarball}: debootstrap ${release} from ${mirror.uri} (minutes; cached afterwards)`);
    await run(
      'debootstrap',
      ['--variant=minbase', `--include=${BASE_PACKAGES.join(',')}`, release, rootfs, mirror.uri],
      30 * 60_000,
    );
    copyNodeInto(rootfs);
    for (const d of ['var/cache/apt/archives', 'var/lib/apt/lists'])
      for (const f of readdirSync(join(rootfs, d)))
        if (f.endsWith('.deb') || /_(Packages|Release|InRelease|Translation-\w+)$/.test(f))
          rmSync(join(rootfs, d, f), { force: true });
    const partial = join(work, 'base.tar');
    await run('tar', ['-C', rootfs, '--numeric-owner', '-cf', partial, '.'], 10 * 60_000);
    renameSync(partial, tarball); // atomic: a half-made tarball is never found
    return tarball;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The node running this test (binary, npm, headers for node-gyp) into rootfs/usr/local. */
function copyNodeInto(rootfs: string): void {
  const node = realpathSync(process.execPath);
  const prefix = dirname(dirname(node)); // /usr for /usr/bin/node
  const npm = join(prefix, 'lib/node_modules/npm');
  const headers = join(prefix, 'include/node');
  for (const p of [npm, headers]) if (!existsSync(p)) throw new Error(`${p} missing: cannot copy node's npm/headers`);
  const local = join(rootfs, 'usr/local');
  mkdirSync(join(local, 'bin'), { recursive: true });
  cpSync(node, join(local, 'bin/node'));
  cpSync(npm, join(local, 'lib/node_modules/npm'), { recursive: true, verbatimSymlinks: true });
  cpSync(headers, join(local, 'include/node'), { recursive: true });
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(local, 'bin/npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(local, 'bin/npx'));
}

/** `docker import` changes that make the tarball a usable base: PATH, and node-gyp told where node's headers are. */
export const BASE_IMAGE_CHANGES = [
  'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  'ENV npm_config_nodedir=/usr/local',
  'CMD ["bash"]',
];
