// docker/pal-alerts.yaml: valid Prometheus rules (`promtool check rules`, Debian's prometheus
// package), alerts that fire on the series pald really exports (`promtool test rules`), and only
// metric names pald's registry has. Without promtool the file is still parsed as YAML and its
// names checked.
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { PalMetrics } from '../../../src/daemon/metrics.js';
import { parseExposition } from '../../helpers/prom-text.js';

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');
const RULES = join(REPO, 'docker/pal-alerts.yaml');
const PROMTOOL = '/usr/bin/promtool';

interface Rule {
  alert: string;
  expr: string;
  annotations?: { summary?: string; description?: string };
}

async function rules(): Promise<Rule[]> {
  const doc = parse(await readFile(RULES, 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((res) => {
    execFile(PROMTOOL, args, { timeout: 60_000 }, (err, stdout, stderr) =>
      res({ code: err ? 1 : 0, output: String(stdout) + String(stderr) }),
    );
  });
}

test('every pal_ metric the rules use is one pald exports', async (t) => {
  const m = new PalMetrics({
    cache: () => ({ hits: 0, misses: 0 }),
    handles: () => ({ openHandles: 0, lockedBytes: 0 }),
    auditDropped: () => 0,
  });
  m.decision('open', 'allow', 'allowed', 10);
  const families = [...parseExposition(await m.text()).keys()];
  const exported = new Set(families.flatMap((f) => [f, `${f}_bucket`, `${f}_sum`, `${f}_count`]));
  const used = (await rules()).flatMap((r) => r.expr.match(/\bpal_[a-z_]+/g) ?? []);
  t.true(used.length > 5);
  t.deepEqual(
    used.filter((name) => !exported.has(name)),
    [],
  );
});

test('promtool checks the rules and their alerts fire on the series pald exports', async (t) => {
  if (!existsSync(PROMTOOL)) {
    t.log(`SKIPPED: ${PROMTOOL} not installed (Debian package prometheus); the rules were parsed as YAML only`);
    t.truthy((await rules()).length);
    return;
  }
  const check = await promtool('check', 'rules', RULES);
  t.is(check.code, 0, check.output);

  const description = new Map((await rules()).map((r) => [r.alert, r.annotations?.description ?? '']));
  const expect = (alert: string, labels: Record<string, string>, summary: string) => ({
    exp_labels: labels,
    exp_annotations: { summary, description: description.get(alert) },
  });
  const dir = await mkdtemp(join(tmpdir(), 'pal-alerts-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const cases = join(dir, 'pal-alerts.test.yaml');
  await writeFile(
    cases,
    stringify({
      rule_files: [RULES],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            { series: 'up{job="pald",instance="node1:9477"}', values: '1 1 0 0 0 0' },
            { series: 'pal_audit_lines_dropped_total{job="pald",instance="node1:9477"}', values: '0 0 0 4 4 4' },
            {
              series:
                'pal_decisions_total{job="pald",instance="node1:9477",op="open",decision="deny",class="trust-failed"}',
              values: '0+10x20',
            },
            {
              series:
                'pal_decisions_total{job="pald",instance="node1:9477",op="open",decision="deny",class="missing-labels"}',
              values: '0+10x20',
            },
          ],
          alert_rule_test: [
            {
              eval_time: '5m',
              alertname: 'PaldDown',
              exp_alerts: [
                expect(
                  'PaldDown',
                  { severity: 'critical', job: 'pald', instance: 'node1:9477' },
                  'pald on node1:9477 is not answering /metrics',
                ),
              ],
            },
            {
              eval_time: '5m',
              alertname: 'PalAuditLinesDropped',
              exp_alerts: [
                expect(
                  'PalAuditLinesDropped',
                  { severity: 'critical', job: 'pald', instance: 'node1:9477' },
                  'pald on node1:9477 dropped 4 audit lines',
                ),
              ],
            },
            {
              // Fail-closed denials alert; ordinary missing-labels denials do not.
              eval_time: '15m',
              alertname: 'PalFailingClosed',
              exp_alerts: [
                expect(
                  'PalFailingClosed',
                  { severity: 'warning', instance: 'node1:9477', class: 'trust-failed' },
                  'pald on node1:9477 denies opens because trust-failed',
                ),
              ],
            },
          ],
        },
      ],
    }),
  );
  const run = await promtool('test', 'rules', cases);
  t.is(run.code, 0, run.output);
});
