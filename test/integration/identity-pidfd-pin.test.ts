// The JS resolver's pid-reuse guard on real processes, as the daemon builds it (with the addon's
// pidfds): a cached caller is answered from its pin while it lives, and once it is gone and its pid
// (or a thread's tid) is handed to another process (forced with /proc/sys/kernel/ns_last_pid),
// that process is resolved afresh, never served as the old caller. The newcomer runs in its own
// mount namespace, so a stale answer ("host") and a fresh one ("unknown") differ visibly.

import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { release } from 'node:os';
import {
  createIdentityResolver,
  type Identity,
  type PidfdOps,
  type ResolverWithDiagnostics,
} from '../../src/identity/index.js';
import { pidfds } from '../../src/native/index.js';
import { waitFor } from '../helpers/wait.js';
import { withPid } from '../helpers/pid-reuse.js';
import { startTimeOf } from '../helpers/proc-start.js';
import { exited, track } from '../helpers/children.js';

const POLL = { timeoutMs: 10_000, intervalMs: 5 };

/** This process's open pidfds and /proc/<pid>/stat fds: the resolver's pins. */
function pinFds(): { pidfd: number; stat: number } {
  const n = { pidfd: 0, stat: 0 };
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target === 'anon_inode:[pidfd]') n.pidfd++;
      else if (/^\/proc\/\d+\/stat$/.test(target)) n.stat++;
    } catch {
      // closed meanwhile (the directory's own fd)
    }
  }
  return n;
}

function resolverFor(t: ExecutionContext): { resolver: ResolverWithDiagnostics; logs: string[] } {
  const logs: string[] = [];
  const resolver = createIdentityResolver({
    dockerHost: 'unix:///nonexistent/pal-identity-pidfd.sock',
    pidfds,
    log: (line) => logs.push(line),
  });
  t.teardown(() => resolver.close());
  return { resolver, logs };
}

/**
 * A process in a mount namespace of its own (so not host) holding pid `target`, freed beforehand:
 * forced through the kernel's last allocated pid (helpers/pid-reuse.ts).
 */
async function newcomerWithPid(t: ExecutionContext, target: number): Promise<ChildProcess> {
  const child = await withPid(
    target,
    () => track(t, spawn('unshare', ['--mount', 'sleep', '300'], { stdio: 'ignore' })),
    async (other) => {
      other.kill('SIGKILL');
      await exited(other);
    },
  );
  const own = readlinkSync('/proc/self/ns/mnt');
  await waitFor(`pid ${target} in its own mount namespace`, () => readlinkSync(`/proc/${target}/ns/mnt`) !== own, POLL);
  return child;
}

function caller(pid: number): { pid: number; uid: number; gid: number } {
  return { pid, uid: 0, gid: 0 };
}

test.serial('the resolver pins cached callers by pidfd here, one fd each, closed with the resolver', async (t) => {
  const before = pinFds();
  const { resolver, logs } = resolverFor(t);
  t.true(
    logs.some((l) => /cached callers pinned by pidfd/.test(l)),
    logs.join('\n'),
  );
  const child = track(t, spawn('sleep', ['300'], { stdio: 'ignore' }));
  t.like(await resolver.resolve(caller(child.pid!)), { kind: 'host', startTime: startTimeOf(child.pid!) });
  t.deepEqual(pinFds(), { pidfd: before.pidfd + 1, stat: before.stat });
  await resolver.close();
  t.deepEqual(pinFds(), before);
});

test.serial(
  'a live cached process is answered from its pin; its pid reused by another is resolved afresh',
  async (t) => {
    const { resolver } = resolverFor(t);
    const first = track(t, spawn('sleep', ['300'], { stdio: 'ignore' }));
    const pid = first.pid!;
    t.like(await resolver.resolve(caller(pid)), { kind: 'host', pid, startTime: startTimeOf(pid) });
    const attested = await resolver.resolve(caller(pid)); // built once from the pin, then reused
    t.is(await resolver.resolve(caller(pid)), attested, 'the live caller: the cached answer itself');

    first.kill('SIGKILL');
    await exited(first);
    const newcomer = await newcomerWithPid(t, pid);
    const id: Identity = await resolver.resolve(caller(pid));
    t.is(newcomer.pid, pid);
    t.not(id, attested, 'not served as the old caller');
    t.is(id.kind, 'unknown');
    t.regex(id.reason ?? '', /mount namespace/);
    t.is(id.startTime, startTimeOf(pid));
  },
);

// A worker thread of a node process: its tid is what the kernel reports as a FUSE caller's pid.
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

test.serial('a cached thread is answered from its pin; its tid reused after it ends is resolved afresh', async (t) => {
  const { resolver } = resolverFor(t);
  const node = track(t, spawn(process.execPath, ['-e', THREADED], { stdio: ['pipe', 'pipe', 'inherit'] }));
  let out = '';
  node.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor('the worker thread id', () => /^\d+\n/.test(out), POLL);
  const tid = Number(out.split('\n')[0]);
  t.not(tid, node.pid, 'a thread other than the leader');
  const before = pinFds();
  t.like(await resolver.resolve(caller(tid)), { kind: 'host', pid: tid, tgid: node.pid });
  // Before Linux 6.9 only a group leader has a pidfd: a thread is pinned by its stat fd there.
  const [major = 0, minor = 0] = release().split('.').map(Number);
  const kind = major > 6 || (major === 6 && minor >= 9) ? 'pidfd' : 'stat';
  t.is(pinFds()[kind], before[kind] + 1, `pinned by a ${kind} fd for the thread`);
  const attested = await resolver.resolve(caller(tid));
  t.is(await resolver.resolve(caller(tid)), attested, 'the live thread: the cached answer itself');

  node.stdin!.write('exit\n');
  await waitFor('the worker thread to end', () => out.includes('exited') && !existsSync(`/proc/${tid}`), POLL);
  t.is(node.exitCode, null, 'its process lives on');
  await newcomerWithPid(t, tid);
  const id = await resolver.resolve(caller(tid));
  t.not(id, attested, 'not served as the old thread');
  t.like(id, { kind: 'unknown', tgid: tid, startTime: startTimeOf(tid) });
});

/** The addon's pidfds, counting the one-call pin (pidfdPinRead) and the step-by-step pidfd_open. */
function countingPidfds(): { ops: PidfdOps; calls: { pinRead: number; open: number } } {
  const calls = { pinRead: 0, open: 0 };
  const ops: PidfdOps = {
    ...pidfds,
    open: (tid) => (calls.open++, pidfds.open(tid)),
    pinRead: (tid) => (calls.pinRead++, pidfds.pinRead(tid)),
  };
  return { ops, calls };
}

test.serial(
  'a new caller is pinned and read in one native call; its pid handed to another is pinned afresh',
  async (t) => {
    const counting = countingPidfds();
    const resolver = createIdentityResolver({
      dockerHost: 'unix:///nonexistent/pal-pin-read.sock',
      pidfds: counting.ops,
    });
    t.teardown(() => resolver.close());
    const opensAtStart = counting.calls.open; // choosePinGuard's probe of pald itself
    const first = track(t, spawn('sleep', ['300'], { stdio: 'ignore' }));
    const pid = first.pid!;
    const attested = await resolver.resolve(caller(pid));
    t.like(attested, { kind: 'host', pid, tgid: pid, startTime: startTimeOf(pid) });
    t.is(counting.calls.pinRead, 1);
    t.is(counting.calls.open, opensAtStart, 'no step-by-step pidfd_open');

    first.kill('SIGKILL');
    await exited(first);
    await newcomerWithPid(t, pid);
    const id = await resolver.resolve(caller(pid));
    t.not(id, attested, 'not served as the old caller');
    t.like(id, { kind: 'unknown', startTime: startTimeOf(pid) });
    t.regex(id.reason ?? '', /mount namespace/);
    t.is(counting.calls.pinRead, 2, 'pinned afresh, in one call');
  },
);
