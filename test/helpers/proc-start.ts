// A process's start time as the resolver and the addon read it: /proc/<pid>/stat field 22 (after
// the command name, which may hold spaces and parentheses, hence the last ')').
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

function field22(stat: string): string | undefined {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

/** The start time of a process that must exist (throws if it does not). */
export function startTimeOf(pid: number): string {
  const st = field22(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  if (st === undefined) throw new Error(`no start time in /proc/${pid}/stat`);
  return st;
}

/** The start time, or undefined once the process is gone. */
export async function startTime(pid: number): Promise<string | undefined> {
  try {
    return field22(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}
