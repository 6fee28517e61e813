// The audit log against a real pald: a flood of refused lookups from many processes is folded
// into a few lines with exact counts (SPEC §5), and SIGHUP makes pald continue in a new file
// after logrotate has moved the old one away.

import test from 'ava';
import { existsSync } from 'node:fs';
import { readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { decisionsIn, type AuditEvent } from '../../src/audit/index.js';
import { runCommand, startPald, type TestPald } from '../helpers/pald.js';
import { waitFor } from '../helpers/wait.js';

const PROCESSES = 1_000;
const LOOKUPS_EACH = 20;

let pald: TestPald | undefined;
test.after.always(async () => {
  await pald?.cleanup();
});

async function lines(file: string): Promise<AuditEvent[]> {
  const text = await readFile(file, 'utf8');
  return text === ''
    ? []
    : text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as AuditEvent);
}

test('20,000 refused lookups from 1,000 processes: the log stays under 64 KiB and records the exact count', async (t) => {
  // No container is involved: host callers (uid 0 is not in host.allow_uids) are refused.
  pald = await startPald({ dockerHost: `unix://${join('/nonexistent', 'docker.sock')}` });
  await pald.seal('x', ['needs-this-label'], 'not for you');
  await waitFor('the manifest to list x', async () => (await pald!.pal('secrets', '--json')).stdout.includes('"x"'));
  const secret = join(pald.mountpoint, 'x');

  // Waves of 50 short-lived processes, each looking the name up LOOKUPS_EACH times (`[ -e ]` is
  // one stat, one FUSE lookup: pald's entries are never cached by the kernel).
  const script = `for b in $(seq ${PROCESSES / 50}); do for p in $(seq 50); do ( for i in $(seq ${LOOKUPS_EACH}); do [ -e "$1" ] && echo visible; done ) & done; wait; done`;
  const run = await runCommand('bash', ['-c', script, 'flood', secret], { timeoutMs: 300_000 });
  t.is(run.code, 0, run.stderr);
  t.false(run.stdout.includes('visible'), 'the secret does not exist for the refused caller');
  t.false(existsSync(secret));

  const status = JSON.parse((await pald.pal('status', '--json')).stdout) as {
    audit: { state: string; decisions: { deny: number }; droppedLines: number };
  };
  t.is(status.audit.state, 'ok');
  t.is(status.audit.droppedLines, 0);
  const denied = status.audit.decisions.deny;
  t.true(denied >= PROCESSES * LOOKUPS_EACH, `${denied} denials counted for ${PROCESSES * LOOKUPS_EACH} lookups`);
  const human = await pald.pal('status');
  t.regex(human.stdout, new RegExp(`^audit .* ok, 0 allowed, ${denied} denied`, 'm'));

  // Logrotate: move the file away and SIGHUP; pald continues in a new file at the path.
  await rename(pald.auditPath, `${pald.auditPath}.1`);
  await pald.reconfigure({});
  t.false(existsSync(join(pald.mountpoint, 'x')));
  await pald.stop(); // writes every folded count and closes the file

  const rotated = await lines(`${pald.auditPath}.1`);
  const current = await lines(pald.auditPath);
  const size = (await stat(`${pald.auditPath}.1`)).size;
  t.log(`${denied} denials → ${rotated.length} lines, ${size} bytes; after SIGHUP: ${current.length} line(s)`);
  t.true(size < 64 * 1024, `${size} bytes`);
  const counted = [...rotated, ...current]
    .filter((l) => l.secret === 'x' && l.decision === 'deny')
    .reduce((n, l) => n + decisionsIn(l), 0);
  t.is(counted, denied + 1, 'first lines + "repeated" counts = every denial, the one after SIGHUP included');
  t.true(current.length >= 1, 'the lookup after SIGHUP is in the new file');
});
