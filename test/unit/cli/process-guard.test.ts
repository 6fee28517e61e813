// pald's process-wide guard (issue 21 item 1), in a child process that loads the built module
// exactly as pald does.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const guardModule = fileURLToPath(new URL('../../../src/cli/process-guard.js', import.meta.url));

function runWithGuard(body: string): {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
} {
  const script = `
    const { installProcessGuard } = await import(${JSON.stringify(guardModule)});
    installProcessGuard({ log: (line) => process.stderr.write(line + '\\n'), stop: async () => process.stdout.write('stopped\\n'), stopDeadlineMs: 10000 });
    ${body}
  `;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
}

test('21.1: an unhandled rejection is logged with its reason and the process keeps serving', (t) => {
  const r = runWithGuard(`
    Promise.reject(new Error('reload exploded'));
    setTimeout(() => { process.stdout.write('still serving\\n'); process.exit(0); }, 50);
  `);
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout, 'still serving\n');
  t.regex(
    r.stderr,
    /pald: unhandled rejection \(a bug; the operation failed, pald keeps serving\): Error: reload exploded \(at /,
  );
});

test('21.1: an uncaught exception is logged, pald stops in order and exits 70 (fails closed)', (t) => {
  const r = runWithGuard(`
    setTimeout(() => { throw new TypeError('state half-updated'); }, 10);
    setTimeout(() => { process.stdout.write('kept serving after an uncaught exception\\n'); }, 5000);
  `);
  t.is(r.status, 70, r.stderr);
  t.is(r.stdout, 'stopped\n');
  t.regex(
    r.stderr,
    /pald: uncaught exception \(a bug; state is no longer known good, stopping\): TypeError: state half-updated/,
  );
});

test('21.1: an uncaught exception whose stop hangs still exits 70 at the deadline', (t) => {
  const script = `
    const { installProcessGuard } = await import(${JSON.stringify(guardModule)});
    installProcessGuard({ log: (line) => process.stderr.write(line + '\\n'), stop: () => new Promise(() => {}), stopDeadlineMs: 100 });
    setTimeout(() => { throw new Error('boom'); }, 10);
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  t.is(r.status, 70, r.stderr);
});
