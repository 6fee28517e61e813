import test from 'ava';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import {
  checkPidNamespace,
  closeFd,
  openStat,
  parseStat,
  parseStatusIds,
  parseStatusFsIds,
  readStat,
  readStatFd,
} from '../../../src/identity/procfs.js';
import { statLine } from '../../helpers/fake-proc.js';
import fc from 'fast-check';

test('start time is field 22 for an ordinary comm', (t) => {
  t.deepEqual(parseStat(statLine('sleep')), { state: 'S', startTime: '123456' });
});

for (const comm of ['a b c', 'x) S 1 2 3 (y', ') ) )', '(', 'new\nline', '', 'sp ace)']) {
  test(`comm ${JSON.stringify(comm)} cannot shift the fields`, (t) => {
    t.deepEqual(parseStat(statLine(comm, 'R', '987654321')), { state: 'R', startTime: '987654321' });
  });
}

test('zombie state is reported', (t) => {
  t.is(parseStat(statLine('dead', 'Z'))?.state, 'Z');
});

test('malformed stat lines are rejected, not guessed', (t) => {
  for (const text of [
    '',
    '4242',
    '4242 (x',
    '4242 x) S 1',
    '4242 (x) S 1 2 3',
    statLine('x', 'S', '12a'),
    statLine('x', 'SS'),
    '4242 )x( S',
  ]) {
    t.is(parseStat(text), undefined, JSON.stringify(text.slice(0, 40)));
  }
});

/** The parser before it walked the text (split into fields): the new one must answer the same. */
function splitParseStat(text: string): { state: string; startTime: string } | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0 || text.indexOf('(') < 0 || text.indexOf('(') > close) return undefined;
  const rest = text
    .slice(close + 1)
    .trim()
    .split(' ');
  const state = rest[0];
  const startTime = rest[22 - 3];
  if (state === undefined || !/^[A-Za-z]$/.test(state)) return undefined;
  if (startTime === undefined || !/^\d{1,20}$/.test(startTime)) return undefined;
  return { state, startTime };
}

test('the walking parser answers exactly as splitting the fields did, for any latin1 text', (t) => {
  const piece = fc.constantFrom(' ', '  ', '(', ')', '\n', '\t', '\u00a0', '\u0085', 'S', 'Z', '7', '0', '123', 'x');
  const field = fc.oneof(fc.stringMatching(/^\d{0,22}$/), fc.constantFrom('S', 'R', 'Z', '', '1a', '\u00a0', ' '));
  const line = fc.oneof(
    fc.array(piece, { maxLength: 40 }).map((parts) => parts.join('')),
    // Kernel-shaped lines with hostile comms, odd fields and trailing whitespace.
    fc
      .tuple(
        fc.array(piece, { maxLength: 8 }),
        fc.constantFrom(' ', '  ', ' \u00a0', '\t', ''),
        fc.array(field, { minLength: 18, maxLength: 23 }),
        fc.constantFrom('', '\n', ' \n', '\u00a0', '  ', '\r'),
      )
      .map(([comm, lead, fields, tail]) => `42 (${comm.join('')})${lead}${fields.join(' ')}${tail}`),
    fc.string({ unit: 'binary-ascii', maxLength: 80 }),
  );
  fc.assert(
    fc.property(line, (text) => {
      t.deepEqual(parseStat(text), splitParseStat(text), JSON.stringify(text));
    }),
    { numRuns: 20_000 },
  );
  for (const comm of ['a b c', 'x) S 1 2 3 (y', '']) {
    const text = statLine(comm, 'R', '987654321');
    t.deepEqual(parseStat(text), splitParseStat(text));
  }
});

test('our own real /proc/self/stat parses, and its start time is stable', (t) => {
  const first = readStat('/proc', process.pid);
  t.regex(first.startTime, /^\d+$/);
  t.is(readStat('/proc', process.pid).startTime, first.startTime);
});

test('status ids: Tgid, real Uid and Gid', (t) => {
  const text = 'Name:\tx\nTgid:\t77\nPid:\t78\nUid:\t1000\t1001\t1002\t1003\nGid:\t50\t51\t52\t53\n';
  t.deepEqual(parseStatusIds(text), { tgid: 77, uid: 1000, gid: 50 });
  t.is(parseStatusIds('Name:\tx\nPid:\t78\n'), undefined);
  t.is(parseStatusIds('Tgid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n'), undefined);
});

test('pid namespace check: the initial namespace passes, another one warns', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'pal-proc-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'self', 'ns'), { recursive: true });
  symlinkSync('pid:[4026531836]', join(root, 'self', 'ns', 'pid'));
  t.is(checkPidNamespace(root).hostPidNamespace, true);

  const other = mkdtempSync(join(tmpdir(), 'pal-proc-'));
  t.teardown(() => rmSync(other, { recursive: true, force: true }));
  mkdirSync(join(other, 'self', 'ns'), { recursive: true });
  mkdirSync(join(other, '1', 'ns'), { recursive: true });
  symlinkSync('pid:[4026532999]', join(other, 'self', 'ns', 'pid'));
  symlinkSync('pid:[4026532999]', join(other, '1', 'ns', 'pid'));
  const check = checkPidNamespace(other);
  t.is(check.hostPidNamespace, false);
  t.regex(check.detail, /not the initial one/);

  const missing = checkPidNamespace(join(other, 'nope'));
  t.is(missing.hostPidNamespace, undefined);
});

test('a held stat fd fails with ESRCH once its process is gone, whatever gets the pid next', async (t) => {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const fd = openStat('/proc', child.pid!);
  t.teardown(() => closeFd(fd));
  const before = readStatFd(fd);
  t.is(before.startTime, readStat('/proc', child.pid!).startTime);
  child.kill('SIGKILL');
  await exited; // node has reaped it: the pid is free for reuse
  const error = t.throws(() => readStatFd(fd));
  t.is((error as { code?: string }).code, 'ESRCH');
});

test('parseStatusFsIds: the filesystem uid and gid, the fourth of each line', (t) => {
  const text = 'Name:\tapp\nTgid:\t77\nUid:\t1000\t1001\t1002\t1003\nGid:\t50\t51\t52\t53\n';
  t.deepEqual(parseStatusFsIds(text), { uid: 1003, gid: 53 });
  t.is(parseStatusFsIds('Uid:\t1000\t1000\t1000\nGid:\t5\t5\t5\t5\n'), undefined, 'three values');
  t.is(parseStatusFsIds('Uid:\t0\t0\t0\t0\n'), undefined, 'no Gid');
  t.is(parseStatusFsIds('Uid:\t0\t0\t0\t99999999999\nGid:\t0\t0\t0\t0\n'), undefined, 'not a 32-bit id');
});
