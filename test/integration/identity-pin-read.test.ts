// The one-call first sight (native pidfdPinRead) on real processes and threads: what it reads while
// its pidfd holds the thread is what /proc says by hand (start time, cgroups, thread group); a process
// gone before the call is reported gone. The resolver's use of it, and pid reuse caught through it, is
// in identity-pidfd-pin.test.ts (whose tests take pids through ns_last_pid one at a time).

import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { constants } from 'node:os';
import { parseStat } from '../../src/identity/procfs.js';
import { pidfds } from '../../src/native/index.js';
import { waitFor } from '../helpers/wait.js';
import { startTimeOf } from '../helpers/proc-start.js';
import { exited, track } from '../helpers/children.js';

const POLL = { timeoutMs: 10_000, intervalMs: 5 };

type PinReadError = Error & { errno?: number; step?: string };

/** pinRead of `tid`, its pidfd closed once checked to be one. */
function pinReadOnce(tid: number): { stat: string; cgroup: string; tgid: number } {
  const read = pidfds.pinRead(tid);
  try {
    if (readlinkSync(`/proc/self/fd/${read.fd}`) !== 'anon_inode:[pidfd]') throw new Error('not a pidfd');
    return read;
  } finally {
    pidfds.close(read.fd);
  }
}

test('a real process read in one call: the start time, cgroups and thread group /proc gives by hand', (t) => {
  const child = track(t, spawn('sleep', ['300'], { stdio: 'ignore' }));
  const pid = child.pid!;
  const read = pinReadOnce(pid);
  t.is(parseStat(read.stat)?.startTime, startTimeOf(pid));
  t.is(read.cgroup, readFileSync(`/proc/${pid}/cgroup`, 'latin1'));
  t.true(read.tgid === pid || read.tgid === 0, `tgid ${read.tgid} (0 only before Linux 6.13)`);
});

const THREADED = `
const { Worker } = require('node:worker_threads');
const w = new Worker(\`
  const { parentPort } = require('node:worker_threads');
  parentPort.postMessage(require('node:fs').readlinkSync('/proc/thread-self').split('/')[2]);
  parentPort.on('message', () => process.exit(0));
\`, { eval: true });
w.on('message', (tid) => process.stdout.write(tid + '\\n'));
w.on('exit', () => process.stdout.write('exited\\n'));
process.stdin.on('data', () => w.postMessage('exit'));
`;

test('a thread read in one call: its own start time, its group as tgid; once it ends, it is gone', async (t) => {
  const node = track(t, spawn(process.execPath, ['-e', THREADED], { stdio: ['pipe', 'pipe', 'inherit'] }));
  let out = '';
  node.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor('the worker thread id', () => /^\d+\n/.test(out), POLL);
  const tid = Number(out.split('\n')[0]);
  t.not(tid, node.pid);
  const read = pinReadOnce(tid);
  t.is(parseStat(read.stat)?.startTime, startTimeOf(tid));
  t.not(startTimeOf(tid), startTimeOf(node.pid!), 'the thread started after its leader');
  t.is(read.cgroup, readFileSync(`/proc/${tid}/cgroup`, 'latin1'));
  t.true(read.tgid === node.pid || read.tgid === 0, `tgid ${read.tgid}`);

  node.stdin!.write('exit\n');
  await waitFor('the worker thread to end', () => out.includes('exited') && !existsSync(`/proc/${tid}`), POLL);
  const err = t.throws<PinReadError>(() => pidfds.pinRead(tid));
  t.is(err?.errno, constants.errno.ESRCH, err?.message);
  t.is(err?.step, 'open');
});

test('a process gone before the call is gone; a bad tid is refused', async (t) => {
  const child = track(t, spawn('true', { stdio: 'ignore' }));
  const pid = child.pid!;
  await exited(child);
  await waitFor(`pid ${pid} reaped`, () => !existsSync(`/proc/${pid}`), POLL);
  const err = t.throws<PinReadError>(() => pidfds.pinRead(pid));
  t.is(err?.errno, constants.errno.ESRCH);
  t.throws(() => pidfds.pinRead(0), { code: 'ERR_PAL_ARGS' });
});
