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
      mountPoint: unescape(parts[4] ?? ''),
      optionalFields: parts.slice(6, sep),
      fsType: parts[sep + 1] ?? '',
      source: unescape(parts[sep + 2] ?? ''),
    });
  }
  return lines;
}

export async function mountsAt(path: string): Promise<MountInfoLine[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return parseMountInfo(text).filter((m) => m.mountPoint === path);
}

/** Is there a FUSE mount of ours (fsname) at path? */
export async function isFuseMounted(path: string): Promise<boolean> {
  return (await mountsAt(path)).some((m) => m.fsType.startsWith('fuse'));
}

/**
 * Make `path` a shared mount point (bind it onto itself first if it is not a mount point yet).
 * Call with no FUSE mount on top (clear a stale one first).
 */
export async function ensureSharedMountpoint(path: string): Promise<void> {
  const mounts = await mountsAt(path);
  if (mounts.length === 0) await run('mount', ['--bind', path, path]);
  const top = (await mountsAt(path)).at(-1);
  if (!top?.optionalFields.some((f) => f.startsWith('shared:'))) await run('mount', ['--make-shared', path]);
}
