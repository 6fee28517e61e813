import test from 'ava';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AuditLog, type AuditEvent } from '../../../src/audit/index.js';

let dir: string;
test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pal-audit-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

function event(i: number, extra: Partial<AuditEvent> = {}): AuditEvent {
  return {
    time: new Date(1_700_000_000_000 + i).toISOString(),
    pid: 100 + i,
    uid: 1000,
    gid: 1000,
    container: 'web',
    image: 'sha256:' + 'b'.repeat(64),
    labels: ['a'],
    secret: 'db-password',
    op: 'open',
    decision: 'allow',
    reason: 'holds a',
    latency_us: 42,
    ...extra,
  };
}

test('JSON lines appended to a 0600 file in a created directory', async (t) => {
  const file = path.join(dir, 'nested', 'log', 'audit.log');
  const log = await AuditLog.open(file);
  log.record(event(1));
  log.record(event(2, { decision: 'deny', reason: 'missing label b' }));
  await log.close();
  const log2 = await AuditLog.open(file);
  log2.record(event(3, { decision: 'error', reason: 'corrupt' }));
  await log2.close();
  const lines = (await readFile(file, 'utf8'))
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as AuditEvent);
  t.deepEqual(
    lines.map((l) => l.decision),
    ['allow', 'deny', 'error'],
  );
  t.deepEqual(Object.keys(lines[0]!), [
    'time',
    'pid',
    'uid',
    'gid',
    'container',
    'image',
    'labels',
    'secret',
    'op',
    'decision',
    'reason',
    'latency_us',
  ]);
  t.is((await stat(file)).mode & 0o777, 0o600);
});

test('an existing world-readable log is tightened to 0600', async (t) => {
  const file = path.join(dir, 'wide.log');
  await writeFile(file, '', { mode: 0o644 });
  const log = await AuditLog.open(file);
  await log.close();
  t.is((await stat(file)).mode & 0o777, 0o600);
});

test('ring keeps the newest events; subscribers see each event until they unsubscribe', async (t) => {
  const log = await AuditLog.open(path.join(dir, 'ring.log'), { ringSize: 3 });
  t.teardown(() => log.close());
  const seen: number[] = [];
  const unsubscribe = log.subscribe((e) => seen.push(e.pid));
  for (let i = 0; i < 5; i++) log.record(event(i));
  unsubscribe();
  log.record(event(5));
  t.deepEqual(
    log.recent().map((e) => e.pid),
    [103, 104, 105],
  );
  t.deepEqual(
    log.recent(2).map((e) => e.pid),
    [104, 105],
  );
  t.deepEqual(seen, [100, 101, 102, 103, 104]);
});

test('never writes fields outside the schema (no plaintext can ride along)', async (t) => {
  const file = path.join(dir, 'plain.log');
  const log = await AuditLog.open(file);
  const leaky = {
    ...event(1),
    value: 'PLAINTEXT-hunter2',
    plaintext: Buffer.from('PLAINTEXT-hunter2'),
  } as unknown as AuditEvent;
  log.record(leaky);
  t.false(JSON.stringify(log.recent()).includes('hunter2'));
  await log.close();
  t.false((await readFile(file, 'utf8')).includes('hunter2'));
});

test('a subscriber that throws does not break logging', async (t) => {
  const log = await AuditLog.open(path.join(dir, 'sub.log'));
  t.teardown(() => log.close());
  log.subscribe(() => {
    throw new Error('closed socket');
  });
  t.notThrows(() => log.record(event(1)));
  t.is(log.recent().length, 1);
});
