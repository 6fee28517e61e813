// Prometheus metrics (SPEC §6): `GET /metrics` on `metrics.listen`, `pal_` prefix, on a registry
// of our own (never prom-client's global one). The request path only increments counters and
// observes histograms (O(1), no allocation beyond prom-client's label lookup); gauges and the
// counters other modules already keep (cache, handle ledger, audit writer) are read at scrape
// time. Labels come from small closed sets (op, decision, reason class, backend, provider,
// outcome): never a container, image or secret name, never a free-text reason.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, exponentialBuckets } from 'prom-client';
import type { RequestMetrics } from '../fs/deps.js';

/** 10 µs doubling to ~1.3 s: resolves a warm open (tens of µs) as well as a cold decrypt. */
export const LATENCY_BUCKETS_SECONDS = exponentialBuckets(10e-6, 2, 18);

/** What pald reads at scrape time (narrow: the daemon passes cache.stats, handles.stats, audit.dropped). */
export interface ScrapeSources {
  readonly cache: () => { readonly hits: number; readonly misses: number };
  readonly handles: () => { readonly openHandles: number; readonly lockedBytes: number };
  readonly auditDropped: () => number;
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

export class PalMetrics implements RequestMetrics {
  readonly registry = new Registry();
  private readonly decisions: Counter<'op' | 'decision' | 'class'>;
  private readonly openLatency: Histogram<'decision'>;
  private readonly attributionLatency: Histogram;
  private readonly decrypts: Counter<'backend'>;
  private readonly trustVerifications: Counter<'provider' | 'outcome'>;
  private readonly errors: Counter<'component'>;

  constructor(sources: ScrapeSources) {
    const registers = [this.registry];
    this.decisions = new Counter({
      name: 'pal_decisions_total',
      help: 'Access decisions recorded in the audit log, counted before aggregation (op: lookup, getattr, open)',
      labelNames: ['op', 'decision', 'class'] as const,
      registers,
    });
    this.openLatency = new Histogram({
      name: 'pal_open_latency_seconds',
      help: 'Time from an open request to its decision (attribution, policy, decrypt or cache), seconds',
      labelNames: ['decision'] as const,
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.attributionLatency = new Histogram({
      name: 'pal_attribution_latency_seconds',
      help: 'Time to attribute a caller (pid → container → trust decision) when not reused from the caller memo, seconds',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.decrypts = new Counter({ name: 'pal_decrypts_total', help: 'Ciphertexts decrypted (cache misses that reached a backend)', labelNames: ['backend'] as const, registers });
    this.trustVerifications = new Counter({
      name: 'pal_trust_verifications_total',
      help: 'Trust decisions handed to attribution, by provider and outcome (verified, unverified, untrusted, error...)',
      labelNames: ['provider', 'outcome'] as const,
      registers,
    });
    this.errors = new Counter({ name: 'pal_errors_total', help: 'Errors by component: runtime (caller not attributable), trust (verification failed), backend (decrypt failed)', labelNames: ['component'] as const, registers });
    for (const component of ['runtime', 'trust', 'backend'] as const) this.errors.inc({ component }, 0);
    mirroredCounter(this.registry, 'pal_cache_hits_total', 'Plaintext cache hits', () => sources.cache().hits);
    mirroredCounter(this.registry, 'pal_cache_misses_total', 'Plaintext cache misses', () => sources.cache().misses);
    mirroredCounter(this.registry, 'pal_audit_lines_dropped_total', 'Audit lines that will never be written (queue full while the log could not be written)', sources.auditDropped);
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
    this.decisions.inc({ op, decision, class: reasonClass });
    if (op === 'open') this.openLatency.observe({ decision }, latencyUs / 1e6);
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

  /** The exposition text (Prometheus text format 0.0.4). */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

export interface MetricsServer {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

/** Serves GET /metrics (no auth: keep it on loopback); anything else is 404. */
export async function startMetricsServer(metrics: PalMetrics, host: string, port: number, log: (line: string) => void): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?', 1)[0];
    if ((req.method !== 'GET' && req.method !== 'HEAD') || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    metrics.text().then(
      (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(req.method === 'HEAD' ? undefined : body),
      (err: unknown) => {
        log(`pald: metrics: ${err instanceof Error ? err.message : String(err)}`);
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
