// The audit record (SPEC §5) and the one place that decides which of its fields reach the log.

export interface AuditEvent {
  time: string;
  pid: number;
  uid: number;
  gid: number;
  container?: string;
  /** On Kubernetes nodes: namespace/pod/container. */
  pod?: string;
  image?: string;
  labels?: readonly string[];
  secret?: string;
  op: string;
  decision: 'allow' | 'deny' | 'error';
  reason: string;
  latency_us: number;
  /** On an aggregated line: how many decisions this line stands for (absent: one). */
  repeated?: number;
}

/**
 * Copies only the known fields, in SPEC order: whatever else a caller put on
 * the object (a buffer, a value) never reaches the log.
 */
export function sanitizeEvent(e: AuditEvent, keepCount = true): AuditEvent {
  const repeated = keepCount ? Number(e.repeated) : 1;
  return {
    time: String(e.time),
    pid: Number(e.pid),
    uid: Number(e.uid),
    gid: Number(e.gid),
    ...(e.container === undefined ? {} : { container: String(e.container) }),
    ...(e.pod === undefined ? {} : { pod: String(e.pod) }),
    ...(e.image === undefined ? {} : { image: String(e.image) }),
    ...(e.labels === undefined ? {} : { labels: e.labels.map(String) }),
    ...(e.secret === undefined ? {} : { secret: String(e.secret) }),
    op: String(e.op),
    decision: e.decision === 'allow' || e.decision === 'deny' ? e.decision : 'error',
    reason: String(e.reason),
    latency_us: Math.round(Number(e.latency_us)),
    ...(Number.isSafeInteger(repeated) && repeated > 1 ? { repeated } : {}),
  };
}

/** How many decisions a written line accounts for. */
export function decisionsIn(e: Pick<AuditEvent, 'repeated'>): number {
  return e.repeated !== undefined && e.repeated > 1 ? e.repeated : 1;
}
