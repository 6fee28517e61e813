// /metrics against a real pald (SPEC §6): host callers make N allowed opens and M refused
// lookups; the scrape parses as Prometheus text and its counters equal what the test did, by
// decision, although the audit log folded the refusals into a few lines.

import test from 'ava';
import { createServer } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decisionsIn, type AuditEvent } from '../../src/audit/index.js';
import { runCommand, startPald, type TestPald } from '../helpers/pald.js';
import { httpGet as get } from '../helpers/http-get.js';
import { parseExposition, sampleValue } from '../helpers/prom-text.js';
import { waitFor } from '../helpers/wait.js';

const ALLOWED_OPENS = 25;
const DENIED_LOOKUPS = 60;

let pald: TestPald | undefined;
test.after.always(async () => {
  await pald?.cleanup();
});

/** A port free on loopback now (the kernel picks it; released just before pald binds it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

test('counters equal the opens and refusals the test made, by decision and reason class', async (t) => {
  const port = await freePort();
  // No container is involved: host callers, refused until uid 0 is in host.allow_uids.
  pald = await startPald({
    dockerHost: `unix://${join('/nonexistent', 'docker.sock')}`,
    metricsListen: `127.0.0.1:${port}`,
  });
  await pald.seal('x', ['some-label'], 'metrics-e2e');
  await waitFor('the manifest to list x', async () => (await pald!.pal('secrets', '--json')).stdout.includes('"x"'));
  const secret = join(pald.mountpoint, 'x');

  // `[ -e ]` is one stat, one FUSE lookup (pald's entries are never cached by the kernel).
  const refused = await runCommand('bash', [
    '-c',
    `for i in $(seq ${DENIED_LOOKUPS}); do [ -e "$1" ] && echo visible; done; true`,
    'refused',
    secret,
  ]);
  t.is(refused.code, 0, refused.stderr);
  t.false(refused.stdout.includes('visible'));

  await pald.reconfigure({ hostAllowUids: [0] });
  const opened = await runCommand('bash', [
    '-c',
    `for i in $(seq ${ALLOWED_OPENS}); do cat "$1"; echo; done`,
    'opened',
    secret,
  ]);
  t.is(opened.code, 0, opened.stderr);
  t.is(opened.stdout, 'metrics-e2e\n'.repeat(ALLOWED_OPENS));

  const scrape = await get(port, '/metrics');
  t.is(scrape.status, 200);
  t.regex(scrape.type, /^text\/plain; version=0\.0\.4/);
  const families = parseExposition(scrape.body);
  const decisions = families.get('pal_decisions_total')!.samples;
  t.log(decisions.map((s) => `${JSON.stringify(s.labels)} ${s.value}`).join('\n'));
  t.is(
    sampleValue(families, 'pal_decisions_total', { op: 'open', decision: 'allow', class: 'allowed' }),
    ALLOWED_OPENS,
  );
  t.is(
    sampleValue(families, 'pal_decisions_total', { op: 'lookup', decision: 'deny', class: 'host-not-allowed' }),
    DENIED_LOOKUPS,
  );
  t.is(decisions.length, 2, 'no other decision was made');
  t.is(sampleValue(families, 'pal_open_latency_seconds_count', { decision: 'allow' }), ALLOWED_OPENS);
  t.true(sampleValue(families, 'pal_decrypts_total', { backend: 'openpgp' })! >= 1);
  t.true(sampleValue(families, 'pal_attribution_latency_seconds_count')! >= 1);
  t.is(sampleValue(families, 'pal_audit_lines_dropped_total'), 0);
  for (const name of ['pal_cache_hits_total', 'pal_cache_misses_total', 'pal_locked_bytes', 'pal_open_handles'])
    t.not(sampleValue(families, name), undefined, name);

  // The same counts as the audit log's own, which folded the refusals into fewer lines.
  const status = JSON.parse((await pald.pal('status', '--json')).stdout) as {
    audit: { decisions: { allow: number; deny: number } };
  };
  t.deepEqual(status.audit.decisions, { allow: ALLOWED_OPENS, deny: DENIED_LOOKUPS, error: 0 });
  t.is((await get(port, '/')).status, 404);

  await pald.stop(); // writes every folded count
  const lines = (await readFile(pald.auditPath, 'utf8'))
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as AuditEvent);
  const denialLines = lines.filter((l) => l.decision === 'deny');
  t.true(
    denialLines.length < DENIED_LOOKUPS,
    `${denialLines.length} lines for ${DENIED_LOOKUPS} refusals: the log aggregated`,
  );
  t.is(
    denialLines.reduce((n, l) => n + decisionsIn(l), 0),
    DENIED_LOOKUPS,
  );
  // Closed at stop: nothing listens on the port any more.
  await t.throwsAsync(() => get(port, '/metrics'), { code: 'ECONNREFUSED' });
});
