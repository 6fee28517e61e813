// pald as the demo runs it: the built CLI with the demo's pald.yaml, its output in a log file that is
// printed once it is ready; stopped with SIGTERM (SIGKILL after 10 s). The mounts it leaves behind
// (under the demo's work dir) are removed with that dir.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from '../components/wait.js';
import { note } from './console.js';

export interface DemoPald {
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

export async function startDemoPald(
  repo: string,
  configFile: string,
  mountpoint: string,
  work: string,
): Promise<DemoPald> {
  mkdirSync(mountpoint, { recursive: true });
  const logFile = path.join(work, 'pald.log');
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, [path.join(repo, 'dist/src/cli/pald.js'), '--config', configFile], {
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const readLog = (): string => readFileSync(logFile, 'utf8');
  note(`$ pald --config ${configFile}   (pid ${child.pid}, output in ${logFile})`);

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
  };

  const state = await waitFor(
    'pald to be ready',
    () => (child.exitCode !== null || child.signalCode !== null ? 'exited' : readLog().includes('ready on') && 'ready'),
    { timeoutMs: READY_TIMEOUT_MS },
  ).catch(() => 'timeout');
  if (state !== 'ready') {
    await stop();
    throw new Error(`demo: pald did not start (${state}):\n${readLog()}`);
  }
  process.stdout.write(readLog());
  return { stop };
}
