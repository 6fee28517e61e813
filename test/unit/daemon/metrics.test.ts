import test from 'ava';
import { PalMetrics, startMetricsServer, LATENCY_BUCKETS_SECONDS } from '../../../src/daemon/metrics.js';
import { parseConfig, parseListen } from '../../../src/config/index.js';
import { httpGet as get } from '../../helpers/http-get.js';
import { parseExposition, sampleValue } from '../../helpers/prom-text.js';

function sources(
  over: Partial<{ hits: number; misses: number; openHandles: number; lockedBytes: number; dropped: number }> = {},
) {
  const s = { hits: 0, misses: 0, openHandles: 0, lockedBytes: 0, dropped: 0, ...over };
  return {
    state: s,
    sources: { cache: () => s, handles: () => s, auditDropped: () => s.dropped },
  };
}

test('the exposition parses as Prometheus text and names the SPEC §6 metric set with the pal_ prefix', async (t) => {
  const { sources: src } = sources({ hits: 3, misses: 2, openHandles: 4, lockedBytes: 8192, dropped: 1 });
  const m = new PalMetrics(src);
  m.decision('open', 'allow', 'allowed', 42);
  m.decision('lookup', 'deny', 'missing-labels', 7);
  m.attribution(120);
  m.decrypted('openpgp');
  m.trustDecision('notary', 'verified');
  m.trustDecision('notary', 'error');
  m.error('backend');
  const families = parseExposition(await m.text());
  t.deepEqual([...families.keys()].sort(), [
    'pal_attribution_latency_seconds',
    'pal_audit_lines_dropped_total',
    'pal_cache_hits_total',
    'pal_cache_misses_total',
    'pal_decisions_total',
    'pal_decrypts_total',
    'pal_errors_total',
    'pal_locked_bytes',
    'pal_open_handles',
    'pal_open_latency_seconds',
    'pal_trust_verifications_total',
    'pal_warm_path_adoptions_total', // beyond SPEC §6: the warm path's adoptions (docs/operations.md)
    'pal_warm_path_start_sponsors_total', // beyond SPEC §6: containers whose start the warm path sponsored
  ]);
  t.is(sampleValue(families, 'pal_decisions_total', { op: 'open', decision: 'allow', class: 'allowed' }), 1);
  t.is(sampleValue(families, 'pal_decisions_total', { op: 'lookup', decision: 'deny', class: 'missing-labels' }), 1);
  t.is(sampleValue(families, 'pal_cache_hits_total'), 3);
  t.is(sampleValue(families, 'pal_cache_misses_total'), 2);
  t.is(sampleValue(families, 'pal_audit_lines_dropped_total'), 1);
  t.is(sampleValue(families, 'pal_locked_bytes'), 8192);
  t.is(sampleValue(families, 'pal_open_handles'), 4);
  t.is(sampleValue(families, 'pal_decrypts_total', { backend: 'openpgp' }), 1);
  t.is(sampleValue(families, 'pal_trust_verifications_total', { provider: 'notary', outcome: 'error' }), 1);
  t.is(sampleValue(families, 'pal_errors_total', { component: 'trust' }), 1);
  t.is(sampleValue(families, 'pal_errors_total', { component: 'backend' }), 1);
  t.is(sampleValue(families, 'pal_errors_total', { component: 'runtime' }), 0);
  // 42 µs lands in the 80 µs bucket, not below 40 µs: the buckets resolve a warm open.
  t.is(sampleValue(families, 'pal_open_latency_seconds_bucket', { decision: 'allow', le: '0.00004' }), 0);
  t.is(sampleValue(families, 'pal_open_latency_seconds_bucket', { decision: 'allow', le: '0.00008' }), 1);
  t.is(sampleValue(families, 'pal_open_latency_seconds_count', { decision: 'allow' }), 1);
});

test('latency buckets resolve 10 µs to one second', (t) => {
  t.is(LATENCY_BUCKETS_SECONDS[0], 10e-6);
  t.true(LATENCY_BUCKETS_SECONDS[LATENCY_BUCKETS_SECONDS.length - 1]! >= 1);
  t.true(LATENCY_BUCKETS_SECONDS.filter((b) => b < 1e-3).length >= 6, 'at least six buckets below a millisecond');
});

test('gauges and mirrored counters are read at scrape time', async (t) => {
  const { state, sources: src } = sources();
  const m = new PalMetrics(src);
  state.openHandles = 5;
  state.hits = 10;
  let families = parseExposition(await m.text());
  t.is(sampleValue(families, 'pal_open_handles'), 5);
  t.is(sampleValue(families, 'pal_cache_hits_total'), 10);
  state.openHandles = 1;
  state.hits = 11;
  families = parseExposition(await m.text());
  t.is(sampleValue(families, 'pal_open_handles'), 1);
  t.is(sampleValue(families, 'pal_cache_hits_total'), 11);
});

test('counts are exact: every decision counted once, whatever the audit log folds', async (t) => {
  const m = new PalMetrics(sources().sources);
  for (let i = 0; i < 5000; i++) m.decision('lookup', 'deny', 'host-not-allowed', 3);
  const families = parseExposition(await m.text());
  t.is(
    sampleValue(families, 'pal_decisions_total', { op: 'lookup', decision: 'deny', class: 'host-not-allowed' }),
    5000,
  );
  t.is(
    sampleValue(families, 'pal_open_latency_seconds_count', { decision: 'deny' }),
    undefined,
    'only opens are timed',
  );
});

test('a scrape first takes what the warm path answered and has not told yet (settle)', async (t) => {
  // The addon's opens reach JS in batches: the scrape must count one answered just before it.
  let queued = 3;
  const m: PalMetrics = new PalMetrics({
    ...sources().sources,
    settle: () => {
      for (; queued > 0; queued--) m.decision('open', 'allow', 'allowed', 40);
    },
  });
  const families = parseExposition(await m.text());
  t.is(sampleValue(families, 'pal_decisions_total', { op: 'open', decision: 'allow', class: 'allowed' }), 3);
  t.is(sampleValue(families, 'pal_open_latency_seconds_count', { decision: 'allow' }), 3);
});

test('each PalMetrics has its own registry (two daemons in one process do not share counts)', async (t) => {
  const a = new PalMetrics(sources().sources);
  const b = new PalMetrics(sources().sources);
  a.decision('open', 'allow', 'allowed', 1);
  t.is(
    sampleValue(parseExposition(await b.text()), 'pal_decisions_total', {
      op: 'open',
      decision: 'allow',
      class: 'allowed',
    }),
    undefined,
  );
});

test('the parser refuses what is not exposition text', (t) => {
  t.throws(() => parseExposition('pal_x 1\n'), { message: /TYPE/ });
  t.throws(() => parseExposition('# TYPE pal_x counter\npal_x{a="b} 1\n'));
  t.throws(() => parseExposition('# TYPE pal_x counter\npal_x one\n'));
  t.throws(() => parseExposition('# TYPE pal_x counter\npal_x -1\n'));
  t.throws(() =>
    parseExposition('# TYPE pal_h histogram\npal_h_bucket{le="1"} 2\npal_h_bucket{le="+Inf"} 1\npal_h_count 1\n'),
  );
  t.notThrows(() => parseExposition('# HELP pal_x a "quoted" help\n# TYPE pal_x counter\npal_x{a="q\\"n\\\\"} 1e3\n'));
});

test('the server answers GET /metrics with the exposition content type, 404 otherwise', async (t) => {
  const m = new PalMetrics(sources().sources);
  m.decision('open', 'allow', 'allowed', 1);
  const server = await startMetricsServer(m, '127.0.0.1', 0, () => {});
  t.teardown(() => server.close());
  const ok = await get(server.address.port, '/metrics');
  t.is(ok.status, 200);
  t.regex(ok.type, /^text\/plain; version=0\.0\.4/);
  t.is(
    sampleValue(parseExposition(ok.body), 'pal_decisions_total', { op: 'open', decision: 'allow', class: 'allowed' }),
    1,
  );
  t.is((await get(server.address.port, '/')).status, 404);
  t.is((await get(server.address.port, '/metrics/x')).status, 404);
  t.is((await get(server.address.port, '/metrics', 'POST')).status, 404);
});

test('metrics.listen: off by default, host:port validated with a reason', (t) => {
  t.is(parseConfig('/etc/pal/pald.yaml', 'mountpoint: /run/pal\n').metrics.listen, '');
  t.is(parseConfig('/etc/pal/pald.yaml', 'metrics:\n  listen: "127.0.0.1:9477"\n').metrics.listen, '127.0.0.1:9477');
  t.is(parseConfig('/etc/pal/pald.yaml', 'metrics:\n  listen: "[::1]:9477"\n').metrics.listen, '[::1]:9477');
  t.deepEqual(parseListen('[::1]:9477'), { host: '::1', port: 9477 });
  t.deepEqual(parseListen('localhost:1'), { host: 'localhost', port: 1 });
  for (const bad of [
    '9477',
    '127.0.0.1',
    '127.0.0.1:0',
    '127.0.0.1:65536',
    '[nothex]:1',
    'a b:1',
    ':9477',
    'http://127.0.0.1:9477',
  ]) {
    t.throws(
      () => parseConfig('/etc/pal/pald.yaml', `metrics:\n  listen: "${bad}"\n`),
      { message: /metrics\.listen/ },
      bad,
    );
  }
  t.throws(() => parseConfig('/etc/pal/pald.yaml', 'metrics:\n  port: 1\n'), { message: /unknown key/ });
});

test('the warm path adoptions are read at scrape time, and are 0 while nothing is mounted', async (t) => {
  const mount: { counts?: { adopted: number; unadopted: number } } = {};
  const m = new PalMetrics({ ...sources().sources, adoptions: () => mount.counts });
  let families = parseExposition(await m.text());
  t.is(sampleValue(families, 'pal_warm_path_adoptions_total', { outcome: 'adopted' }), 0);
  mount.counts = { adopted: 7, unadopted: 2 };
  families = parseExposition(await m.text());
  t.is(sampleValue(families, 'pal_warm_path_adoptions_total', { outcome: 'adopted' }), 7);
  t.is(sampleValue(families, 'pal_warm_path_adoptions_total', { outcome: 'unadopted' }), 2);
});

test('the standing sponsors are counted at scrape time', async (t) => {
  const m = new PalMetrics(sources().sources);
  let standing = 0;
  m.standingSponsors(() => standing);
  t.is(sampleValue(parseExposition(await m.text()), 'pal_warm_path_standing_sponsors'), 0);
  standing = 3;
  t.is(sampleValue(parseExposition(await m.text()), 'pal_warm_path_standing_sponsors'), 3);
});
