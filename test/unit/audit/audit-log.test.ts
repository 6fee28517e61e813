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

/** Lines as the warm path's addon writes them (native/src/audit_line.c): newline-ended UTF-8, from the lease's tail. */
function addonLines(log: AuditLog, events: AuditEvent[]): Buffer {
  const text = events.map(
    (e) => `{"time":"${e.time}","pid":${e.pid}${log.replayTail(e)!},"latency_us":${e.latency_us}}\n`,
  );
  return Buffer.from(text.join(''));
}

test("the addon's lines are written, kept, streamed and counted in order with JS's own", async (t) => {
  const file = path.join(dir, 'addon.log');
  const log = await AuditLog.open(file, { ringSize: 5 });
  const streamed: number[] = [];
  log.subscribe((e) => streamed.push(e.pid));
  const unicode = { container: 'wéb "quoted" 😀', labels: ['\u2028', 'b\\'] };
  log.record(event(0));
  log.appendLines(addonLines(log, [event(1, unicode), event(2, unicode)]), 2);
  log.record(event(3, { decision: 'deny', reason: 'lacks b' }));
  log.appendLines(addonLines(log, [event(4)]), 1);
  log.record(event(5));
  await log.close();
  const written = (await readFile(file, 'utf8')).trimEnd().split('\n');
  t.deepEqual(
    written.map((l) => (JSON.parse(l) as AuditEvent).pid),
    [100, 101, 102, 103, 104, 105],
  );
  // Byte for byte what JS writes for the same decision.
  const js = await AuditLog.open(path.join(dir, 'js.log'));
  js.record(event(1, unicode));
  await js.close();
  t.is(written[1], (await readFile(path.join(dir, 'js.log'), 'utf8')).trimEnd());
  t.deepEqual(streamed, [100, 101, 102, 103, 104, 105]);
  t.like(log.health().decisions, { allow: 5, deny: 1 });
  // The ring's newest 5, across the addon's runs and JS's lines; any tail of them.
  t.deepEqual(
    log.recent().map((e) => e.pid),
    [101, 102, 103, 104, 105],
  );
  t.deepEqual(
    log.recent(4).map((e) => e.pid),
    [102, 103, 104, 105],
  );
  t.is(log.recent()[0]!.container, unicode.container);
  t.is(log.replayTail(event(6, { decision: 'deny' })), undefined, 'only allow lines are the addon’s to write');
});

test("a run of the addon's lines that the bounded queue cannot hold is counted, line by line", async (t) => {
  const failing = Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
  const sink = {
    path: 'failing',
    write: () => Promise.reject(failing),
    reopen: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  const log = AuditLog.over(sink, { timers: false, maxQueuedBytes: 4096, firstRetryMs: 60_000 });
  const run = addonLines(log, [event(1), event(2), event(3)]);
  log.appendLines(run, 3);
  await log.flush();
  t.like(log.health(), { state: 'failing', pendingLines: 3, droppedLines: 0 });
  for (let i = 0; i < 20; i++) log.appendLines(run, 3);
  const { pendingLines, droppedLines } = log.health();
  t.true(droppedLines > 0 && droppedLines % 3 === 0, `dropped ${droppedLines}`);
  t.is(pendingLines + droppedLines, 63, 'every line is either waiting or counted dropped');
  await log.close();
  t.is(log.health().droppedLines, 63);
});
