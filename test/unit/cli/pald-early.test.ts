// pald's early debugger guard (issue 12 finding 1): which node options are refused. That SIGUSR1
// opens nothing and NODE_OPTIONS=--inspect stops the real pald is in test/integration/hostile-input.
import test from 'ava';
import { debuggerProblem } from '../../../src/cli/pald-early.js';

test('12.1: --inspect and --debug in NODE_OPTIONS or on the command line are refused, anything else is fine', (t) => {
  for (const opts of [
    '--inspect',
    '--inspect=0.0.0.0:9229',
    '--max-old-space-size=100 --inspect-brk',
    '--inspect_brk',
    '--inspect-port=1',
    '--debug-port=1',
    '"--inspect"',
  ]) {
    t.regex(
      debuggerProblem({ NODE_OPTIONS: opts }, [], undefined) ?? 'accepted',
      /^NODE_OPTIONS contains .*refuses to run with a debugger$/,
      opts,
    );
  }
  t.regex(debuggerProblem({}, ['--inspect-wait'], undefined) ?? 'accepted', /node was started with --inspect-wait/);
  t.regex(
    debuggerProblem({}, [], 'ws://127.0.0.1:9229/x') ?? 'accepted',
    /a debugger is listening at ws:\/\/127\.0\.0\.1:9229\/x/,
  );
  t.is(
    debuggerProblem({ NODE_OPTIONS: '--max-old-space-size=100 --enable-source-maps' }, ['--no-warnings'], undefined),
    undefined,
  );
  t.is(debuggerProblem({}, [], undefined), undefined);
});
