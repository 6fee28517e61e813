// Imported first by pald, before anything else is loaded (see pald.ts): closes Node's debugger
// doors in a root process that holds every key and plaintext.
//
// * SIGUSR1 makes Node start its inspector on 127.0.0.1:9229, unauthenticated: code execution as
//   root for anything that may signal pald and reach loopback. A JS listener replaces Node's own
//   handler, so the signal is merely logged. SIGUSR2 would terminate pald by default: ignored too.
// * --inspect*/--debug* (in NODE_OPTIONS or on node's command line), or an inspector already
//   open by any other way, is refused with exit status 2 before pald reads a key.
// What is left: the few milliseconds between node's start and this module, which only a node
// started with --disable-sigusr1 (Node >= 22.14) would close.
import inspector from 'node:inspector';

for (const signal of ['SIGUSR1', 'SIGUSR2'] as const) {
  process.on(signal, () => process.stderr.write(`pald: ${signal} ignored (pald has no debugger or dump on signals)\n`));
}

/** Why node's own options make this process unsafe to run as pald, or undefined. */
export function debuggerProblem(
  env: NodeJS.ProcessEnv,
  execArgv: readonly string[],
  inspectorUrl: string | undefined,
): string | undefined {
  // Node accepts `_` for `-` in option names (--inspect_brk).
  const debugFlag = /^--(?:inspect|debug)(?:[-_="']|$)/;
  const fromEnv = (env['NODE_OPTIONS'] ?? '').split(/\s+/).find((arg) => debugFlag.test(arg.replace(/^["']/, '')));
  if (fromEnv !== undefined) return `NODE_OPTIONS contains ${fromEnv}: pald refuses to run with a debugger`;
  const fromArgv = execArgv.find((arg) => debugFlag.test(arg));
  if (fromArgv !== undefined) return `node was started with ${fromArgv}: pald refuses to run with a debugger`;
  if (inspectorUrl !== undefined)
    return `a debugger is listening at ${inspectorUrl}: pald refuses to run with a debugger`;
  return undefined;
}

const problem = debuggerProblem(process.env, process.execArgv, inspector.url());
if (problem !== undefined) {
  process.stderr.write(`pald: ${problem}\n`);
  process.exit(2);
}
