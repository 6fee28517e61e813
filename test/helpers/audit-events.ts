// Audit events for the audit units' tests: a refusal as the filesystem logs one.
import type { AuditEvent } from '../../src/audit/index.js';

/** A lookup refused for a missing label, by `pid` (its time follows the pid); `extra` overrides. */
export function denialEvent(pid: number, extra: Partial<AuditEvent> = {}): AuditEvent {
  return {
    time: new Date(1_700_000_000_000 + pid).toISOString(),
    pid,
    uid: 1000,
    gid: 1000,
    container: 'web (0123456789ab)',
    secret: 'db-password',
    op: 'lookup',
    decision: 'deny',
    reason: 'missing label db',
    latency_us: 5,
    ...extra,
  };
}
