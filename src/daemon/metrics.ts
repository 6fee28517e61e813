// Prometheus metrics (SPEC §6): `GET /metrics` on `metrics.listen`, `pal_` prefix, on a registry
// of our own (never prom-client's global one). Per-request counts (decisions, open latency) are
// plain numbers in a small map, exported at scrape time: prom-client's own inc()/observe() with
// labels costs ~0.4 µs each (label validation and hashing), a map update ~15 ns. Gauges and the
// counters other modules already keep (cache, handle ledger, audit writer) are read at scrape
// time too. Labels come from small closed sets (op, decision, reason class, backend, provider,
// outcome): never a container, image or secret name, never a free-text reason.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, exponentialBuckets, type Metric } from 'prom-client';
import type { RequestMetrics } from '../fs/index.js';
import { errorMessage } from '../shared/error-message.js';

/** 10 µs doubling to ~1.3 s: resolves a warm open (tens of µs) as well as a cold decrypt. */
export const LATENCY_BUCKETS_SECONDS = exponentialBuckets(10e-6, 2, 18);

/** What pald reads at scrape time (narrow: the daemon passes cache.stats, handles.stats, audit.dropped). */
export interface ScrapeSources {
  readonly cache: () => { readonly hits: number; readonly misses: number };
  readonly handles: () => { readonly openHandles: number; readonly lockedBytes: number };
  readonly auditDropped: () => number;
  /** The warm path's counts of new processes adopted in C or left to JS (undefined: not mounted, or off). */
  readonly adoptions?: () => { readonly adopted: number; readonly unadopted: number } | undefined;
  /**
   * Hands JS what the warm path answered and has not told yet (FastPath.drain): its events reach JS
   * in batches up to 10 ms late, and a scrape counts every open answered before it.
   */
  readonly settle?: () => void;
}

export type ErrorComponent = 'runtime' | 'trust' | 'backend';

/** A counter mirrored from a monotonic count kept elsewhere (set at scrape time). */
function mirroredCounter(registry: Registry, name: string, help: string, read: () => number): Counter {
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

interface FamilyValue {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName?: string;
}

/** A metric family whose samples are computed at scrape time (prom-client formats it). */
function scrapedFamily(
  registry: Registry,
  name: string,
  help: string,
  type: 'counter' | 'histogram',
  values: () => FamilyValue[],
): void {
  const family = {
    name,
    help,
    type,
    aggregator: 'sum' as const,
    get: () => Promise.resolve({ name, help, type, aggregator: 'sum' as const, values: values() }),
  };
  registry.registerMetric(family as unknown as Metric);
}

/** A cumulative-at-scrape histogram kept as plain counts: observe() is a short scan and two adds. */
class LatencyCounts {
  readonly buckets = new Float64Array(LATENCY_BUCKETS_SECONDS.length + 1); // last: above every bound
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS_SECONDS.length && seconds > LATENCY_BUCKETS_SECONDS[i]!) i++;
    this.buckets[i]!++;
    this.sum += seconds;
    this.count++;
  }

  values(name: string, labels: Record<string, string>): FamilyValue[] {
    const out: FamilyValue[] = [];
    let cumulative = 0;
    LATENCY_BUCKETS_SECONDS.forEach((le, i) => {
      cumulative += this.buckets[i]!;
      out.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative });
    });
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: this.count });
    out.push({ metricName: `${name}_sum`, labels, value: this.sum });
    out.push({ metricName: `${name}_count`, labels, value: this.count });
    return out;
  }
}

/** Containers started, by whether the warm path decided their first process's lookups ahead (src/fs/view-state.ts sponsor). */
function startSponsorsCounter(registry: Registry): Counter<'outcome'> {
  const counter = new Counter({
    name: 'pal_warm_path_start_sponsors_total',
    help: "Containers attributed at their start whose first process's lookups the warm path decided ahead (sponsored: at least one secret) or not (none)",
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  for (const outcome of ['sponsored', 'none'] as const) counter.inc({ outcome }, 0);
  return counter;
}

export class PalMetrics implements RequestMetrics {
  readonly registry = new Registry();
  /** `${decision} ${op} ${class}` → count; the label sets are closed, so the map stays small. */
  private readonly decisions = new Map<string, { readonly labels: Record<string, string>; n: number }>();
  /** Keys by op, decision and class: the request path never builds a string. */
  private readonly decisionKeys = new Map<
    string,
    Map<string, Map<string, { readonly labels: Record<string, string>; n: number }>>
  >();
  private readonly openLatency = new Map<string, LatencyCounts>();
  private readonly attributionLatency: Histogram;
  private readonly decrypts: Counter<'backend'>;
  private readonly trustVerifications: Counter<'provider' | 'outcome'>;
  private readonly errors: Counter<'component'>;
  private readonly startSponsors = startSponsorsCounter(this.registry);

  constructor(private readonly sources: ScrapeSources) {
    const registers = [this.registry];
    scrapedFamily(
      this.registry,
      'pal_decisions_total',
      'Access decisions recorded in the audit log, counted before aggregation (op: lookup, getattr, open)',
      'counter',
      () => [...this.decisions.values()].map(({ labels, n }) => ({ labels, value: n })),
    );
    scrapedFamily(
      this.registry,
      'pal_open_latency_seconds',
      'Time from an open request to its decision (attribution, policy, decrypt or cache), seconds',
      'histogram',
      () =>
        [...this.openLatency].flatMap(([decision, counts]) => counts.values('pal_open_latency_seconds', { decision })),
    );
    this.attributionLatency = new Histogram({
      name: 'pal_attribution_latency_seconds',
      help: 'Time to attribute a caller (pid → container → trust decision) when not reused from the caller memo, seconds',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.decrypts = new Counter({
      name: 'pal_decrypts_total',
      help: 'Ciphertexts decrypted (cache misses that reached a backend)',
      labelNames: ['backend'] as const,
      registers,
    });
    this.trustVerifications = new Counter({
      name: 'pal_trust_verifications_total',
      help: 'Trust decisions handed to attribution, by provider and outcome (verified, unsigned, unverified, error)',
      labelNames: ['provider', 'outcome'] as const,
      registers,
    });
    this.errors = new Counter({
      name: 'pal_errors_total',
      help: 'Errors by component: runtime (caller not attributable), trust (verification failed), backend (decrypt failed)',
      labelNames: ['component'] as const,
      registers,
    });
    for (const component of ['runtime', 'trust', 'backend'] as const) this.errors.inc({ component }, 0);
    scrapedFamily(
      this.registry,
      'pal_warm_path_adoptions_total',
      'New processes of a container pald had attested that the warm path answered in C (adopted) or left to JS (unadopted), since the mount',
      'counter',
      () => {
        const counts = sources.adoptions?.();
        return (['adopted', 'unadopted'] as const).map((outcome) => ({
          labels: { outcome },
          value: counts?.[outcome] ?? 0,
        }));
      },
    );
    mirroredCounter(this.registry, 'pal_cache_hits_total', 'Plaintext cache hits', () => sources.cache().hits);
    mirroredCounter(this.registry, 'pal_cache_misses_total', 'Plaintext cache misses', () => sources.cache().misses);
    mirroredCounter(
      this.registry,
      'pal_audit_lines_dropped_total',
      'Audit lines that will never be written (queue full while the log could not be written)',
      sources.auditDropped,
    );
    new Gauge({
      name: 'pal_locked_bytes',
      help: 'Plaintext pald holds in locked memory (cache and open handles), bytes',
      registers,
      collect() {
        this.set(sources.handles().lockedBytes);
      },
    });
    new Gauge({
      name: 'pal_open_handles',
      help: 'Open file handles on /run/pal',
      registers,
      collect() {
        this.set(sources.handles().openHandles);
      },
    });
  }

  decision(op: string, decision: string, reasonClass: string, latencyUs: number): void {
    const counted = this.decisionKeys.get(op)?.get(decision)?.get(reasonClass);
    if (counted) counted.n++;
    else this.firstDecision(op, decision, reasonClass);
    if (op !== 'open') return;
    let latency = this.openLatency.get(decision);
    if (!latency) this.openLatency.set(decision, (latency = new LatencyCounts()));
    latency.observe(latencyUs / 1e6);
  }

  private firstDecision(op: string, decision: string, reasonClass: string): void {
    const entry = { labels: { op, decision, class: reasonClass }, n: 1 };
    this.decisions.set(`${decision} ${op} ${reasonClass}`, entry);
    let byDecision = this.decisionKeys.get(op);
    if (!byDecision) this.decisionKeys.set(op, (byDecision = new Map<string, Map<string, typeof entry>>()));
    let byClass = byDecision.get(decision);
    if (!byClass) byDecision.set(decision, (byClass = new Map<string, typeof entry>()));
    byClass.set(reasonClass, entry);
  }

  attribution(latencyUs: number): void {
    this.attributionLatency.observe(latencyUs / 1e6);
  }

  decrypted(backend: string): void {
    this.decrypts.inc({ backend });
  }

  trustDecision(provider: string, outcome: string): void {
    this.trustVerifications.inc({ provider, outcome });
    if (outcome === 'error') this.errors.inc({ component: 'trust' });
  }

  error(component: ErrorComponent): void {
    this.errors.inc({ component });
  }

  /** Counts the containers whose init stands as a sponsor now (src/fs/standing-sponsors.ts), read at scrape time. */
  standingSponsors(read: () => number): void {
    new Gauge({
      name: 'pal_warm_path_standing_sponsors',
      help: 'Containers whose processes the warm path adopts from their init, standing since their start or last re-decision',
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /** A container's start was sponsored for `secrets` secrets (src/fs/view-state.ts sponsor). */
  startSponsor(secrets: number): void {
    this.startSponsors.inc({ outcome: secrets > 0 ? 'sponsored' : 'none' });
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  text(): Promise<string> {
    this.sources.settle?.();
    return this.registry.metrics();
  }
}

export interface MetricsServer {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

/** Serves GET /metrics (no auth: keep it on loopback); anything else is 404. */
export async function startMetricsServer(
  metrics: PalMetrics,
  host: string,
  port: number,
  log: (line: string) => void,
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?', 1)[0];
    if ((req.method !== 'GET' && req.method !== 'HEAD') || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    metrics.text().then(
      (body) =>
        res
          .writeHead(200, { 'content-type': metrics.registry.contentType })
          .end(req.method === 'HEAD' ? undefined : body),
      (err: unknown) => {
        log(`pald: metrics: ${errorMessage(err)}`);
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics unavailable\n');
      },
    );
  });
  // Slow or idle scrapers must not hold sockets open for long.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
