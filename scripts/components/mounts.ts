// Mounts a component leaves behind in its temp dir (dockerd's netns and overlays, pald's staging
// bind mount next to its admin socket): removed before the dir itself, deepest first.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Lazily unmount everything mounted at or under `dir`, deepest first; best effort. */
export function unmountUnder(dir: string): void {
  let mountinfo: string;
  try {
    mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return;
  }
  const points = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined && (p === dir || p.startsWith(`${dir}/`)))
    .sort((x, y) => y.length - x.length);
  for (const point of points) {
    try {
      execFileSync('umount', ['-l', point], { stdio: 'ignore' });
    } catch {
      // best effort: a mount already gone is fine
    }
  }
}
