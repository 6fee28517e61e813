// Shared-mount plumbing for the mountpoint. Containers bind /run/pal with `rslave`; for a
// restarted pald's new FUSE mount to reach them, the host mountpoint must be a shared mount
// *underneath* the FUSE mount: `mount --bind P P; mount --make-shared P`, then FUSE on top.

import { readFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface MountInfoLine {
  readonly mountId: number;
  readonly parentId: number;
  /** major:minor of the filesystem (a FUSE connection's number for fuse). */
  readonly device: string;
  readonly mountPoint: string;
  readonly optionalFields: readonly string[];
  readonly fsType: string;
  readonly source: string;
}

/** /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountInfo(text: string): MountInfoLine[] {
  const lines: MountInfoLine[] = [];
  for (const raw of text.split('\n')) {
    if (!raw.trim()) continue;
    const parts = raw.split(' ');
    const sep = parts.indexOf('-');
    if (sep < 6 || parts.length < sep + 3) continue; // malformed: ignore rather than crash
    lines.push({
      mountId: Number(parts[0]),
      parentId: Number(parts[1]),
      device: parts[2] ?? '',
      mountPoint: unescape(parts[4] ?? ''),
      optionalFields: parts.slice(6, sep),
      fsType: parts[sep + 1] ?? '',
      source: unescape(parts[sep + 2] ?? ''),
    });
  }
  return lines;
}

async function mountsAt(path: string): Promise<MountInfoLine[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return parseMountInfo(text).filter((m) => m.mountPoint === path);
}

async function mkdirTolerant(path: string): Promise<void> {
  const { mkdir } = await import('node:fs/promises');
  try {
    await mkdir(path, { recursive: true, mode: 0o700 });
  } catch (err) {
    // A dead FUSE mount (a pald that died) answers ENOTCONN; it is dealt with by the caller.
    if ((err as NodeJS.ErrnoException).code !== 'ENOTCONN') throw err;
  }
}

/** Does a FUSE filesystem answer at path? false when nothing answers (ENOTCONN: its daemon died). */
async function fuseAnswers(path: string): Promise<boolean> {
  const { stat } = await import('node:fs/promises');
  try {
    await stat(path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTCONN' || code === 'ECONNABORTED') return false;
    throw err;
  }
}

// `mount` must not stat or canonicalise a path whose top mount is a dead FUSE layer.
const mountCmd = (...args: string[]) => run('mount', ['--no-canonicalize', ...args]);

/**
 * The private directory where pald's FUSE session is really mounted (a stale one there is
 * cleared by the addon's mount). Private, so the session itself propagates nowhere.
 */
export async function prepareStagingDir(path: string): Promise<void> {
  await mkdirTolerant(path);
  if ((await mountsAt(path)).length === 0) await mountCmd('--bind', path, path);
  await mountCmd('--make-private', path);
}

export interface MountpointState {
  /** FUSE layers left at the mountpoint by earlier pald runs (dead: their daemons are gone). */
  readonly deadLayers: number;
}

/**
 * Why layers: a container started with `-v P:/run/pal:ro,rslave` gets a copy of whatever mount is
 * on top of P at that moment (the live FUSE mount), as a slave of it. A later pald reaches that
 * container only by mounting on top of that same mount, so the old layer is kept (dead) and the
 * new session is bind-mounted over it; the new layer propagates to every slave of the old one.
 * The bottom of the stack is P bound onto itself and made shared, so containers started before
 * any pald follow too.
 */
export async function prepareMountpoint(path: string): Promise<MountpointState> {
  await mkdirTolerant(path);
  const mounts = await mountsAt(path);
  if (mounts.length === 0) {
    await mountCmd('--bind', path, path);
    await mountCmd('--make-shared', path);
    return { deadLayers: 0 };
  }
  const top = mounts.at(-1)!;
  if (top.fsType.startsWith('fuse')) {
    if (await fuseAnswers(path))
      throw new Error(`a live FUSE filesystem (${top.source}) is already mounted at ${path}: is another pald running?`);
  } else if (!top.optionalFields.some((f) => f.startsWith('shared:'))) {
    await mountCmd('--make-shared', path);
  }
  return { deadLayers: mounts.filter((m) => m.fsType.startsWith('fuse')).length };
}

/** Puts the session mounted at `staging` on top of the mountpoint's stack. */
export async function stackOnto(staging: string, mountpoint: string): Promise<void> {
  await mountCmd('--bind', staging, mountpoint);
}
