// Where the machine's CPU time went over a bench run, from /proc/stat's first line: busy, idle,
// waiting on I/O, and stolen by the hypervisor. On this VM the steal share moves from 0 to 40%
// within an hour, and a ratio measured while half the CPU was stolen is not the one of a quiet
// moment: the bench prints the split next to the load average so each table says which it was.
import { readFile } from 'node:fs/promises';

/** Jiffies since boot, summed over all CPUs, in the columns the split needs. */
export interface CpuTimes {
  readonly busy: number;
  readonly idle: number;
  readonly iowait: number;
  readonly steal: number;
}

/**
 * Parses the aggregate "cpu" line of /proc/stat (user nice system idle iowait irq softirq steal
 * guest guest_nice; guest time is already counted in user and nice, so it is not added again).
 * Undefined when the text has no such line or its numbers are not numbers.
 */
export function parseCpuTimes(procStat: string): CpuTimes | undefined {
  const line = procStat.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) return undefined;
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 8 || f.some((n) => !Number.isSafeInteger(n) || n < 0)) return undefined;
  const at = (i: number): number => f[i] ?? 0;
  // user nice system idle iowait irq softirq steal
  return { busy: at(0) + at(1) + at(2) + at(5) + at(6), idle: at(3), iowait: at(4), steal: at(7) };
}

export async function readCpuTimes(path = '/proc/stat'): Promise<CpuTimes | undefined> {
  return parseCpuTimes(await readFile(path, 'utf8').catch(() => ''));
}

/** "busy 61%, idle 9%, iowait 0%, stolen 30%" between two readings; undefined without both or without time between. */
export function describeCpuSplit(before: CpuTimes | undefined, after: CpuTimes | undefined): string | undefined {
  if (!before || !after) return undefined;
  const d = {
    busy: after.busy - before.busy,
    idle: after.idle - before.idle,
    iowait: after.iowait - before.iowait,
    stolen: after.steal - before.steal,
  };
  const total = d.busy + d.idle + d.iowait + d.stolen;
  if (total <= 0 || Object.values(d).some((v) => v < 0)) return undefined;
  const pct = (v: number): string => `${Math.round((100 * v) / total)}%`;
  return `busy ${pct(d.busy)}, idle ${pct(d.idle)}, iowait ${pct(d.iowait)}, stolen ${pct(d.stolen)}`;
}
