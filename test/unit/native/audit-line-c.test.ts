// The addon's audit line (native/src/audit_line.c) is byte for byte the line JS writes for the same
// open: `{"time":<Date#toISOString>,"pid":…<tail>,"latency_us":…}\n`. It formats the date by hand
// (no gmtime, no snprintf), so it is held to Date over random instants of the whole range it
// accepts and the calendar's edges, and it must refuse what Date would write otherwise.
import test from 'ava';
import fc from 'fast-check';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { compileC } from '../../bench/harness.js';

const execFileAsync = promisify(execFile);
const nativeSrc = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../native/src');
const TAIL = ',"uid":0,"gid":0,"container":"c1","secret":"db","decision":"allow"';
const LAST_MS = 253402300800000 - 1; // 9999-12-31T23:59:59.999Z

// Reads "time_ms pid latency_us" per line; prints each line the addon writes, or "-" for none.
const DRIVER = `
#include <stdio.h>
#include "audit_line.h"
int main(void) {
  double t; long long pid, lat;
  char line[PAL_AUDIT_TAIL_MAX + PAL_AUDIT_LINE_EXTRA];
  const char *tail = ${JSON.stringify(TAIL)};
  while (scanf("%lf %lld %lld", &t, &pid, &lat) == 3) {
    size_t n = pal_audit_line(line, sizeof line, t, (pid_t)pid, tail, sizeof ${JSON.stringify(TAIL)} - 1, lat);
    if (n == 0) fputs("-\\n", stdout); else fwrite(line, 1, n, stdout);
  }
  return 0;
}
`;

interface Case {
  readonly timeMs: number;
  readonly pid: number;
  readonly latencyUs: number;
}

function jsLine(c: Case): string {
  return `{"time":"${new Date(c.timeMs).toISOString()}","pid":${c.pid}${TAIL},"latency_us":${c.latencyUs}}\n`;
}

async function addonLines(cases: readonly Case[]): Promise<string[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pal-audit-line-'));
  try {
    const driver = path.join(dir, 'driver.c');
    await writeFile(driver, DRIVER);
    const bin = await compileC(
      path.join(dir, 'driver'),
      [driver, path.join(nativeSrc, 'audit_line.c')],
      [`-I${nativeSrc}`, '-lm', '-Werror'],
    );
    const input = cases.map((c) => `${c.timeMs} ${c.pid} ${c.latencyUs}`).join('\n') + '\n';
    const child = execFileAsync(bin, [], { maxBuffer: 64 * 1024 * 1024 });
    child.child.stdin!.end(input);
    const { stdout } = await child;
    return stdout.split(/(?<=\n)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const edges: readonly number[] = [
  0,
  999,
  1000,
  86_399_999, // 1970-01-01T23:59:59.999Z
  86_400_000,
  Date.UTC(1972, 1, 29), // a leap day
  Date.UTC(2000, 1, 29, 12), // 2000 is a leap year (÷400)
  Date.UTC(2000, 2, 1) - 1,
  Date.UTC(2100, 2, 1) - 1, // 2100 is not (÷100): Feb 28 23:59:59.999
  Date.UTC(2400, 1, 29),
  Date.UTC(2026, 11, 31, 23, 59, 59, 999),
  Date.UTC(2027, 0, 1),
  LAST_MS,
];

test('the addon writes the line JS writes, over the whole range and the calendar edges', async (t) => {
  const random = fc.sample(
    fc.record({
      timeMs: fc.integer({ min: 0, max: LAST_MS }),
      pid: fc.integer({ min: 1, max: 4_194_304 }),
      latencyUs: fc.integer({ min: 0, max: 2 ** 40 }),
    }),
    { numRuns: 20_000, seed: 14 },
  );
  const cases: Case[] = [...edges.map((timeMs, i) => ({ timeMs, pid: i + 1, latencyUs: i * 7 })), ...random];
  const got = await addonLines(cases);
  t.is(got.length, cases.length);
  const wrong = cases.filter((c, i) => got[i] !== jsLine(c));
  t.deepEqual(wrong.slice(0, 5), [], `${wrong.length} lines differ, e.g. ${got[cases.indexOf(wrong[0]!)]}`);
});

test('the addon writes no line Date would write otherwise: JS writes those', async (t) => {
  const refused: Case[] = [
    { timeMs: -1, pid: 1, latencyUs: 0 }, // before the epoch
    { timeMs: LAST_MS + 1, pid: 1, latencyUs: 0 }, // year 10000: Date writes +010000
    { timeMs: 1.5, pid: 1, latencyUs: 0 }, // not whole ms
    { timeMs: 1000, pid: 1, latencyUs: -1 }, // a negative latency
  ];
  t.deepEqual(
    await addonLines(refused),
    refused.map(() => '-\n'),
  );
});
