// The cross-process lock around forced pid reuse (test/helpers/pid-lock.ts): holders in separate
// processes never overlap, a lock left by a dead process is broken, a live holder's is not.
import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { acquirePidLock, withPidLock } from '../../helpers/pid-lock.js';
import { startTimeOf } from '../../helpers/proc-start.js';

const LOCK_MODULE = new URL('../../helpers/pid-lock.js', import.meta.url).href;
const ROUNDS = 40;

/** Once told to go on stdin, each round: take the lock, append "in", hold it a couple of ms, append "out", release. */
const HOLDER = `
import { appendFileSync } from 'node:fs';
import { withPidLock } from ${JSON.stringify(LOCK_MODULE)};
const [dir, log, rounds] = process.argv.slice(1);
process.stdin.once('data', async () => {
  for (let i = 0; i < Number(rounds); i++) {
    await withPidLock(async () => {
      appendFileSync(log, 'in ' + process.pid + '\\n');
      for (let k = 0; k < 2; k++) await new Promise((r) => setTimeout(r, 1)); // hold it a while
      appendFileSync(log, 'out ' + process.pid + '\\n');
    }, { dir, intervalMs: 1 });
    await new Promise((r) => setImmediate(r));
  }
  process.exit(0);
});
`;

function scratch(t: { teardown(fn: () => void): void }): string {
  const root = mkdtempSync(join(tmpdir(), 'pal-pid-lock-test-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

async function deadPid(): Promise<number> {
  const child = spawn('true', { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid!;
}

test('holders in separate processes never overlap', async (t) => {
  const root = scratch(t);
  const dir = join(root, 'lock');
  const log = join(root, 'log');
  writeFileSync(log, '');
  const holders = [0, 1, 2].map(() =>
    spawn(process.execPath, ['--input-type=module', '-e', HOLDER, dir, log, String(ROUNDS)], {
      stdio: ['pipe', 'inherit', 'inherit'],
    }),
  );
  // All start at once (node's start-up is longer than a holder's whole run).
  for (const h of holders) h.stdin.write('go\n');
  const codes = await Promise.all(holders.map(async (h) => (await once(h, 'exit'))[0] as number | null));
  t.deepEqual(codes, [0, 0, 0]);

  const lines = readFileSync(log, 'utf8').trim().split('\n');
  t.is(lines.length, 3 * ROUNDS * 2);
  for (let i = 0; i < lines.length; i += 2) {
    const [inLine, outLine] = [lines[i]!, lines[i + 1]!];
    t.regex(inLine, /^in \d+$/, `line ${i}: ${lines.slice(i, i + 3).join(' | ')}`);
    t.is(outLine, inLine.replace('in', 'out'), `line ${i + 1}: the holder left before another came in`);
  }
  t.false(existsSync(dir), 'released');
  t.deepEqual(readdirSync(root).sort(), ['log'], 'no staging or grave directories left behind');
});

test('a lock whose owner is dead is broken', async (t) => {
  const dir = join(scratch(t), 'lock');
  mkdirSync(dir);
  writeFileSync(join(dir, 'owner'), `${await deadPid()} 12345\n`);
  t.is(
    await withPidLock(async () => readFileSync(join(dir, 'owner'), 'utf8'), { dir, timeoutMs: 5_000 }),
    `${process.pid} ${startTimeOf(process.pid)}\n`,
  );
  t.false(existsSync(dir));
});

test("a lock whose owner's pid now names another process is broken", async (t) => {
  const dir = join(scratch(t), 'lock');
  mkdirSync(dir);
  writeFileSync(join(dir, 'owner'), `${process.ppid} 1\n`); // a live pid, but not started at tick 1
  const release = await acquirePidLock({ dir, timeoutMs: 5_000 });
  release();
  t.false(existsSync(dir));
});

test("a live holder's lock is waited for, not broken", async (t) => {
  const dir = join(scratch(t), 'lock');
  mkdirSync(dir);
  const owner = `${process.ppid} ${startTimeOf(process.ppid)}\n`;
  writeFileSync(join(dir, 'owner'), owner);
  await t.throwsAsync(acquirePidLock({ dir, timeoutMs: 200 }), { message: /timed out .* the lock/ });
  t.is(readFileSync(join(dir, 'owner'), 'utf8'), owner);
});

test('the lock is released when the work throws', async (t) => {
  const dir = join(scratch(t), 'lock');
  await t.throwsAsync(
    withPidLock(async () => Promise.reject(new Error('boom')), { dir }),
    { message: 'boom' },
  );
  t.false(existsSync(dir));
});
