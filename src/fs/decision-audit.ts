// One audited decision: the audit line and the /metrics counters, by reason class (never the
// free-text reason). The only place that turns a Caller into an audit record.

import type { AuditEvent } from '../audit/index.js';
import type { Caller } from '../policy/index.js';
import type { AuditSink, RequestMetrics } from './deps.js';

export function elapsedUs(startNs: bigint): number {
  return Number((process.hrtime.bigint() - startNs) / 1000n);
}

/** The reason class of a caller pald could not attribute or trust (as policy's decide() names it). */
export function failureClass(caller: Caller): string {
  return caller.identity.kind === 'unknown' ? 'caller-unknown' : 'trust-failed';
}

export interface AuditedDecision {
  readonly op: string;
  readonly secret: string | undefined;
  readonly decision: AuditEvent['decision'];
  readonly reason: string;
  readonly reasonClass: string;
  /** process.hrtime.bigint() when the request arrived. */
  readonly startNs: bigint;
}

/** An open the addon answered from a lease (open-leases.ts), heard of after the fact: its own time and latency. */
export interface ReplayedDecision extends Omit<AuditedDecision, 'startNs'> {
  /** Wall clock (ms since the epoch) of the open. */
  readonly timeMs: number;
  readonly latencyUs: number;
}

// The audit line's time, formatted once per millisecond: on the warm path, where the addon
// answers opens itself, formatting it for every line was a tenth of what an open costs pald.
let isoMs = -1;
let iso = '';
function isoAt(ms: number): string {
  if (ms !== isoMs) {
    isoMs = ms;
    iso = new Date(ms).toISOString();
  }
  return iso;
}

export function recordDecision(
  sink: AuditSink,
  metrics: RequestMetrics | undefined,
  caller: Caller,
  d: AuditedDecision | ReplayedDecision,
): void {
  const { identity } = caller;
  const replayed = 'timeMs' in d;
  const latencyUs = replayed ? d.latencyUs : elapsedUs(d.startNs);
  metrics?.decision(d.op, d.decision, d.reasonClass, latencyUs);
  sink.record({
    time: isoAt(replayed ? d.timeMs : Date.now()),
    pid: caller.ctx.pid,
    uid: caller.ctx.uid,
    gid: caller.ctx.gid,
    ...(identity.containerId
      ? { container: identity.name ? `${identity.name} (${identity.containerId.slice(0, 12)})` : identity.containerId }
      : {}),
    ...(identity.pod ? { pod: `${identity.pod.namespace}/${identity.pod.name}/${identity.pod.container}` } : {}),
    ...(identity.imageRef || identity.imageId ? { image: identity.imageRef ?? identity.imageId } : {}),
    ...(caller.trust ? { labels: caller.trust.labels } : {}),
    ...(d.secret !== undefined ? { secret: d.secret } : {}),
    op: d.op,
    decision: d.decision,
    reason: d.reason,
    latency_us: latencyUs,
  });
}
