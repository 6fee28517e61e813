// One audited decision: the audit line and the /metrics counters, by reason class (never the
// free-text reason). The only place that turns a Caller into an audit record.

import { isoTime, type AuditEvent } from '../audit/index.js';
import type { Identity } from '../identity/index.js';
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

/** The audit fields an identity gives, formed once per Identity object (the resolver reuses one per process). */
interface IdentityFields {
  readonly container: string | undefined;
  readonly pod: string | undefined;
  readonly image: string | undefined;
}

const identityFields = new WeakMap<Identity, IdentityFields>();

function fieldsOf(identity: Identity): IdentityFields {
  let f = identityFields.get(identity);
  if (f === undefined) {
    const { containerId, name, pod } = identity;
    f = {
      container: containerId ? (name ? `${name} (${containerId.slice(0, 12)})` : containerId) : undefined,
      pod: pod ? `${pod.namespace}/${pod.name}/${pod.container}` : undefined,
      image: identity.imageRef || identity.imageId ? (identity.imageRef ?? identity.imageId) : undefined,
    };
    identityFields.set(identity, f);
  }
  return f;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

export function recordDecision(
  sink: AuditSink,
  metrics: RequestMetrics | undefined,
  caller: Caller,
  d: AuditedDecision | ReplayedDecision,
): void {
  const replayed = 'timeMs' in d;
  const latencyUs = replayed ? d.latencyUs : elapsedUs(d.startNs);
  metrics?.decision(d.op, d.decision, d.reasonClass, latencyUs);
  sink.record(decisionEvent(caller, d, replayed ? d.timeMs : Date.now(), latencyUs));
}

/** The audit record of a decision, at wall clock `timeMs`. */
export function decisionEvent(
  caller: Caller,
  d: Omit<AuditedDecision, 'startNs'>,
  timeMs: number,
  latencyUs: number,
): AuditEvent {
  // Field by field in SPEC order (the warm path writes one per open the addon answered: no spreads).
  const { ctx } = caller;
  const e = {
    time: isoTime(timeMs),
    pid: ctx.pid,
    uid: ctx.uid,
    gid: ctx.gid,
  } as Writable<AuditEvent>;
  const { container, pod, image } = fieldsOf(caller.identity);
  if (container !== undefined) e.container = container;
  if (pod !== undefined) e.pod = pod;
  if (image !== undefined) e.image = image;
  if (caller.trust) e.labels = caller.trust.labels;
  if (d.secret !== undefined) e.secret = d.secret;
  e.op = d.op;
  e.decision = d.decision;
  e.reason = d.reason;
  e.latency_us = latencyUs;
  return e;
}
