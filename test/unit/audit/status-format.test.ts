import test from 'ava';
import { formatAuditEvent, formatStatus } from '../../../src/cli/admin-format.js';

const base = { pald: 'running', docker: {}, trust: {}, keys: {}, manifest: {}, cache: {} };

test('pal status shows the audit log: health, exact decision counts, dropped lines and the error', (t) => {
  const ok = formatStatus({
    ...base,
    audit: {
      path: '/var/log/pal/audit.log',
      state: 'ok',
      droppedLines: 0,
      decisions: { allow: 3, deny: 20_000, error: 1 },
    },
  });
  t.regex(ok, /^audit {5}\/var\/log\/pal\/audit\.log ok, 3 allowed, 20000 denied, 1 errors$/m);
  const failing = formatStatus({
    ...base,
    audit: {
      path: '/var/log/pal/audit.log',
      state: 'failing',
      lastError: 'ENOSPC: no space left on device',
      lastErrorAt: '2026-12-01T06:00:00.000Z',
      droppedLines: 12,
      decisions: { allow: 0, deny: 5, error: 0 },
    },
  });
  t.regex(failing, /^audit .*FAILING: ENOSPC: no space left on device, .*12 lines DROPPED/m);
});

test('pal status says who reads the secrets: the kernel by passthrough, or pald and why', (t) => {
  const on = { asked: true, offered: true, negotiated: true, opens: 120, conflicts: 0, busyInodes: 1, contentReads: 0 };
  t.regex(
    formatStatus({ ...base, passthrough: on }),
    /^reads {5}by the kernel from locked memory \(FUSE passthrough\): 120 opens, 0 conflicts, 0 READs through pald$/m,
  );
  const off = { ...on, asked: false, negotiated: false, opens: 0, contentReads: 7 };
  t.regex(
    formatStatus({ ...base, passthrough: off }),
    /^reads {5}through pald \(no FUSE passthrough: PAL_FUSE_PASSTHROUGH=0\): 7 READs$/m,
  );
  const old = { ...off, asked: true, offered: false };
  t.regex(formatStatus({ ...base, passthrough: old }), /not offered by the kernel/);
  t.notRegex(formatStatus(base), /^reads/m, 'nothing when pald has no mount');
});

test('pal audit shows the count of an aggregated line', (t) => {
  const line = {
    time: 't',
    pid: 1,
    uid: 0,
    gid: 0,
    secret: 'x',
    op: 'lookup',
    decision: 'deny',
    reason: 'r',
    latency_us: 3,
  };
  t.notRegex(formatAuditEvent(line), /×/);
  t.regex(formatAuditEvent({ ...line, repeated: 4_999 }), / ×4999\n$/);
});
