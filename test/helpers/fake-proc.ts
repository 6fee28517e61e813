// A fake /proc of stat and cgroup files for the identity units' tests (process pins, container
// records), and a count of the fds this test process holds open in it (so other tests in the
// process don't count).

import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FakeStatProc {
  readonly root: string;
  /** Writes /proc/<pid>/stat with this start time and state (and cgroup, when given). */
  process(pid: number, start: string, opts?: { state?: string; cgroup?: string }): void;
  exit(pid: number): void;
  openFds(): number;
  cleanup(): void;
}

export function fakeStatProc(): FakeStatProc {
  const root = mkdtempSync(join(tmpdir(), 'pal-fakeproc-'));
  return {
    root,
    process(pid, start, opts = {}) {
      const dir = join(root, String(pid));
      mkdirSync(dir, { recursive: true });
      const fields = [opts.state ?? 'S', ...Array.from({ length: 18 }, () => '0'), start, '0', '0'];
      writeFileSync(join(dir, 'stat'), `${pid} (p) ${fields.join(' ')}\n`);
      if (opts.cgroup !== undefined) writeFileSync(join(dir, 'cgroup'), opts.cgroup);
    },
    exit(pid) {
      rmSync(join(root, String(pid)), { recursive: true, force: true });
    },
    openFds() {
      return readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith(root);
        } catch {
          return false;
        }
      }).length;
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** A realistic stat line: fields 3..52 after the comm. */
export function statLine(comm: string, state = 'S', startTime = '123456'): string {
  const after = [
    state,
    '1',
    '100',
    '100',
    '0',
    '-1',
    '4194560',
    '120',
    '0',
    '0',
    '0',
    '3',
    '1',
    '0',
    '0',
    '20',
    '0',
    '1',
    '0',
    startTime,
  ];
  while (after.length < 50) after.push('0');
  return `4242 (${comm}) ${after.join(' ')}\n`;
}
