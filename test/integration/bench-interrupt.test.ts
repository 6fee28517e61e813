// `npm run bench` interrupted (a `timeout`, a closed terminal, Ctrl-C) takes down what it started:
// the suites' FUSE servers and their mounts, the tmpfs, its scratch directory. Node's default for
// SIGTERM skips every `finally`; test/bench/interrupt.ts turns the signal into an abort instead.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import test from 'ava';

import { exited, track } from '../helpers/children.js';
import { waitFor } from '../helpers/wait.js';

const execFileAsync = promisify(execFile);
const RUNNER = fileURLToPath(new URL('../bench/run.js', import.meta.url));

async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((mnt) => mnt.startsWith(`${dir}/`));
}

/** Processes whose command line names a path under `dir` (the bench's servers and client). */
async function processesUnder(dir: string): Promise<Map<number, string>> {
  const found = new Map<number, string>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (argv.includes(`${dir}/`)) found.set(Number(entry), argv.replaceAll('\0', ' ').trim());
  }
  return found;
}

test('SIGTERM to the bench runner stops its servers, unmounts and removes its scratch directory', async (t) => {
  // The runner's scratch directory comes from os.tmpdir(): TMPDIR puts it where only this test looks.
  const dir = await mkdtemp('/tmp/pal-bench-interrupt-');
  t.teardown(async () => {
    // Only if the runner left them: what the assertions below say must not happen. The processes
    // first (a FUSE server killed leaves its mount; a mount taken away first may be remounted by
    // nobody, but a client reading the tmpfs keeps it busy).
    const left = [...(await processesUnder(dir)).keys()];
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
    }
    await waitFor('the processes left behind gone', async () => (await processesUnder(dir)).size === 0);
    for (const mnt of (await mountsUnder(dir)).reverse())
      await execFileAsync('umount', ['-l', mnt]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  // One round of 600 s per case: the signal arrives while the first case is being measured.
  const runner = spawn(process.execPath, [RUNNER, 'fuse'], {
    env: { ...process.env, TMPDIR: dir, BENCH_SECONDS: '600', BENCH_ROUNDS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(t, runner);
  let stdout = '';
  let stderr = '';
  runner.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  runner.stderr.on('data', (d: Buffer) => (stderr += d.toString()));

  // The suite measures once every filesystem is mounted: its C client running (the program the
  // runner compiled into its scratch directory, not gcc writing it there) is the moment.
  const client = new RegExp(`^${dir}/pal-bench-[^/ ]+/client `);
  await waitFor(
    'the bench client measuring',
    async () => [...(await processesUnder(dir)).values()].some((argv) => client.test(argv)),
    { timeoutMs: 120_000 },
  );
  const mounted = await mountsUnder(dir);
  const started = await processesUnder(dir);
  t.true(mounted.length >= 2, `the tmpfs and the C floor at least: ${mounted.join(', ')}`);
  t.true(started.size >= 2, `the floor and the client at least: ${[...started.values()].join('; ')}`);

  runner.kill('SIGTERM');
  await exited(runner);
  t.is(runner.signalCode, null, `the runner died of the signal instead of cleaning up: ${stderr}`);
  t.is(runner.exitCode, 143, stderr);
  t.regex(stdout, /interrupted by SIGTERM: partial results/);
  t.regex(stdout, /fuse\s+\(suite failed\)\s+0\s+unavailable: interrupted by SIGTERM/);
  t.deepEqual(await mountsUnder(dir), [], 'mounts left behind');
  const left = await processesUnder(dir);
  t.deepEqual([...left.values()], [], 'processes left behind');
  t.deepEqual(await readdir(dir), [], 'the scratch directory left behind');
});
