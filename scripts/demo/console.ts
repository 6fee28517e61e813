// How the demo talks: section titles, the commands it runs printed before their output (so a reader
// can repeat them), and the expected outcome of each step checked, so that `npm run demo` fails loudly
// when pal does not behave as the demo says.
import { spawn } from 'node:child_process';

export function say(title: string): void {
  process.stdout.write(`\n\x1b[1m== ${title}\x1b[0m\n`);
}

export function note(text: string): void {
  process.stdout.write(`${text}\n`);
}

export interface ShowOptions {
  /** What to print instead of the real command line (e.g. without a private dockerd's -H). */
  readonly display?: string;
  /** Fed to the command's stdin (never printed). */
  readonly input?: string;
  /** `ok`: exit 0 required (default); `fail`: a non-zero exit required; `any`: either. */
  readonly expect?: 'ok' | 'fail' | 'any';
  readonly timeoutMs?: number;
}

/** Prints `$ command`, runs it with its output going to ours, and checks its exit status. */
export async function show(cmd: string, args: readonly string[], opts: ShowOptions = {}): Promise<number> {
  note(`$ ${opts.display ?? [cmd, ...args].join(' ')}`);
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'inherit', 'inherit'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (status, signal) => {
      clearTimeout(timer);
      resolve(status ?? (signal !== null ? 128 : 1));
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
  const expect = opts.expect ?? 'ok';
  if (expect === 'ok' && code !== 0) throw new Error(`demo: \`${opts.display ?? cmd}\` failed (exit ${code})`);
  if (expect === 'fail' && code === 0) throw new Error(`demo: \`${opts.display ?? cmd}\` succeeded but must not`);
  return code;
}
