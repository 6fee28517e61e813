// The addon's warm path answers only for the very thread JS attested. It pins each remembered
// caller with a pidfd (one signal-0 syscall per request) or, where none can be had, with its
// /proc/<pid>/stat fd (PAL_TEST_FAST_PIN=stat forces that path here, so both stay tested): a pid
// or thread id reused by another process (forced with /proc/sys/kernel/ns_last_pid) is never
// served from the cache, a thread that is not its group's leader is, and no pin outlives its slot.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

import type { FuseMount } from '../../src/native/index.js';
import { waitFor } from '../helpers/wait.js';
import { withPid } from '../helpers/pid-reuse.js';
import { mountTestFs, TestFs } from './native-fixture.js';
import { startTimeOf } from '../helpers/proc-start.js';

const GENERATION = 3;
type PinKind = 'pidfd' | 'stat';

/** The pins the addon holds in this process: its pidfds and /proc/<pid>/stat fds. */
function pinFds(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (/pidfd|^\/proc\/\d+\/stat$/.test(readlinkSync(`/proc/self/fd/${fd}`))) n++;
    } catch {
      // closed meanwhile (the directory's own fd)
    }
  }
  return n;
}

/** A caller that checks the file exists (a LOOKUP) once per line on stdin, in the shell itself. */
const PROBE = 'while read x; do if [ -e "$0" ]; then echo y; else echo n; fi; done';

interface Child {
  readonly pid: number;
  stdout(): string;
  say(line: string): void;
  readonly done: Promise<unknown>;
  kill(signal?: NodeJS.Signals): void;
}

/** A child talked to line by line; killed at test end if still running. */
function start(t: ExecutionContext, cmd: string, args: string[]): Child {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise((resolve) => child.once('close', resolve));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    pid: child.pid!,
    stdout: () => out,
    say: (line) => void child.stdin.write(line + '\n'),
    done,
    kill: (signal = 'SIGKILL') => void child.kill(signal),
  };
}

async function lines(child: Child, n: number): Promise<string[]> {
  const all = (): string[] => child.stdout().split('\n').filter(Boolean);
  await waitFor(`${n} lines from ${child.pid}`, () => all().length >= n, { timeoutMs: 10_000, intervalMs: 5 });
  return all();
}

/** The probe's next answer (the LOOKUP it made is over then). */
async function ask(probe: Child): Promise<string> {
  const n = (await lines(probe, 0)).length;
  probe.say('');
  return (await lines(probe, n + 1))[n]!;
}

/** Spawns `spawnOne` until the process it starts gets pid `target` (freed beforehand). */
function takePid(target: number, spawnOne: () => Child): Promise<Child> {
  return withPid(target, spawnOne, async (child) => {
    child.kill('SIGKILL');
    await child.done;
  });
}

async function setup(
  t: ExecutionContext,
  pin: PinKind,
): Promise<{ fuse: FuseMount; path: string; attr: ReturnType<TestFs['attrOf']> }> {
  const fs = new TestFs();
  const file = fs.add('a', 'secret-a');
  const { mountpoint, fuse } = await mountTestFs(t, fs);
  if (pin === 'stat') process.env.PAL_TEST_FAST_PIN = 'stat';
  try {
    fuse.fastPath.enable(true); // reads the test switch
  } finally {
    delete process.env.PAL_TEST_FAST_PIN;
  }
  fuse.fastPath.setGeneration(GENERATION);
  return { fuse, path: join(mountpoint, 'a'), attr: fs.attrOf(file) };
}

function caller(pid: number, startTime = startTimeOf(pid)) {
  return { pid, uid: 0, gid: 0, startTime, remainingMs: 60_000 };
}

function hits(fuse: FuseMount): number {
  const s = fuse.fastPath.stats();
  return s.lookupHits + s.getattrHits;
}

for (const pin of ['pidfd', 'stat'] as const) {
  test.serial(`a pid reused by another process is not served from the cache (${pin} pin)`, async (t) => {
    const { fuse, path, attr } = await setup(t, pin);
    const first = start(t, 'sh', ['-c', PROBE, path]);
    t.true(fuse.fastPath.remember(GENERATION, caller(first.pid), 'a', attr));
    t.like(fuse.fastPath.stats(), pin === 'pidfd' ? { pidfdPins: 1, statPins: 0 } : { pidfdPins: 0, statPins: 1 });
    t.is(await ask(first), 'y');
    t.true(hits(fuse) >= 1, 'the attested process is served from the cache');
    const before = hits(fuse);
    const gone = fuse.fastPath.stats().goneCallers;

    first.kill('SIGKILL');
    await first.done;
    const second = await takePid(first.pid, () => start(t, 'sh', ['-c', PROBE, path]));
    t.is(await ask(second), 'y', 'answered by JS');
    t.is(hits(fuse), before, 'the new process under the same pid was not served from the cache');
    t.is(fuse.fastPath.stats().goneCallers, gone + 1);
  });

  // A thread of a node process (a worker): its tid is the FUSE request's pid.
  const THREADED = `
const { Worker } = require('node:worker_threads');
const w = new Worker(\`
  const { parentPort } = require('node:worker_threads');
  const fs = require('node:fs');
  parentPort.postMessage(fs.readlinkSync('/proc/thread-self').split('/')[2]);
  parentPort.on('message', (m) => m === 'exit' ? process.exit(0) : parentPort.postMessage(fs.existsSync(m) ? 'y' : 'n'));
\`, { eval: true });
w.on('message', (m) => process.stdout.write(m + '\\n'));
w.on('exit', () => process.stdout.write('exited\\n'));
process.stdin.on('data', (d) => { for (const line of d.toString().split('\\n').filter(Boolean)) w.postMessage(line); });
`;

  test.serial(`a thread is served from the cache, and its tid reused is not (${pin} pin)`, async (t) => {
    const { fuse, path, attr } = await setup(t, pin);
    const child = start(t, process.execPath, ['-e', THREADED]);
    const tid = Number((await lines(child, 1))[0]);
    t.not(tid, child.pid, 'not the group leader');

    t.true(fuse.fastPath.remember(GENERATION, caller(tid), 'a', attr));
    t.like(fuse.fastPath.stats(), pin === 'pidfd' ? { pidfdPins: 1, statPins: 0 } : { pidfdPins: 0, statPins: 1 });
    child.say(path);
    t.is((await lines(child, 2))[1], 'y');
    t.true(hits(fuse) >= 1, 'the attested thread is served from the cache');
    const before = hits(fuse);
    const gone = fuse.fastPath.stats().goneCallers;

    child.say('exit');
    t.is((await lines(child, 3))[2], 'exited');
    const probe = await takePid(tid, () => start(t, 'sh', ['-c', PROBE, path]));
    t.is(await ask(probe), 'y', 'answered by JS');
    t.is(hits(fuse), before, 'the process now holding the tid was not served from the cache');
    t.is(fuse.fastPath.stats().goneCallers, gone + 1);
    child.kill('SIGKILL');
  });
}

test.serial(
  'every pin is closed when its caller is forgotten, replaced, expired or the cache turned off',
  async (t) => {
    const { fuse, attr } = await setup(t, 'pidfd');
    const N = 40;
    const sleepers = Array.from({ length: N }, () => start(t, 'sleep', ['60']));
    const baseline = pinFds();
    const rememberAll = (remainingMs = 60_000): number =>
      sleepers.filter((s) => fuse.fastPath.remember(GENERATION, { ...caller(s.pid), remainingMs }, 'a', attr)).length;

    // Slots are direct-mapped: two sleepers may share one, the later replacing the earlier.
    const first = rememberAll();
    t.true(first > N / 2);
    const held = pinFds() - baseline;
    t.true(held > N / 2 && held <= N, `${held} pins`);
    fuse.fastPath.setGeneration(GENERATION + 1); // a new generation forgets everything
    t.is(pinFds(), baseline);

    fuse.fastPath.setGeneration(GENERATION);
    rememberAll();
    t.is(pinFds() - baseline, held);
    // A caller remembered again with another start time (a reused pid): refused, its slot emptied.
    t.false(fuse.fastPath.remember(GENERATION, caller(sleepers[0]!.pid, '1'), 'a', attr));
    t.is(pinFds() - baseline, held - 1);
    fuse.fastPath.enable(false);
    t.is(pinFds(), baseline);

    fuse.fastPath.enable(true);
    fuse.fastPath.setGeneration(GENERATION);
    rememberAll(1);
    t.true(pinFds() > baseline);
    await waitFor(
      'expired callers to be forgotten',
      () => {
        fuse.fastPath.expire();
        return pinFds() === baseline;
      },
      { timeoutMs: 10_000, intervalMs: 5 },
    );
    t.is(pinFds(), baseline);
    for (const s of sleepers) s.kill('SIGKILL');
  },
);
