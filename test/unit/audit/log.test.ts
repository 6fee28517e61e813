import test from 'ava';
import { mkdtemp, readFile, rename, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AuditLog, decisionsIn, type AuditEvent, type LineSink } from '../../../src/audit/index.js';
import { denialEvent } from '../../helpers/audit-events.js';

let dir: string;
test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pal-audit-log-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

// These tests' refusals come from uid 0.
const denial = (pid: number, extra: Partial<AuditEvent> = {}): AuditEvent =>
  denialEvent(pid, { uid: 0, gid: 0, ...extra });

async function linesOf(file: string): Promise<AuditEvent[]> {
  const text = await readFile(file, 'utf8');
  return text === ''
    ? []
    : text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as AuditEvent);
}

const total = (lines: readonly AuditEvent[]): number => lines.reduce((n, l) => n + decisionsIn(l), 0);

test('5,000 threads refused one secret: two lines in the file, every refusal counted', async (t) => {
  let now = 0;
  const file = path.join(dir, 'flood.log');
  const log = await AuditLog.open(file, { now: () => now, timers: false });
  for (let tid = 1; tid <= 5_000; tid++) log.record(denial(tid));
  log.record(denial(1, { op: 'open', decision: 'allow', reason: 'holds db', secret: 'ok' }));
  now += 10_000;
  log.tick();
  await log.close();
  const lines = await linesOf(file);
  t.is(lines.length, 3);
  t.is(total(lines.filter((l) => l.decision === 'deny')), 5_000);
  t.is(lines.find((l) => l.repeated !== undefined)?.repeated, 4_999);
  t.deepEqual(log.health().decisions, { allow: 1, deny: 5_000, error: 0 });
  t.is(log.health().aggregated, 4_999);
});

test('a caller cannot forge a count: "repeated" on a recorded event is ignored', async (t) => {
  const file = path.join(dir, 'forged.log');
  const log = await AuditLog.open(file, { timers: false });
  log.record(denial(1, { repeated: 1_000_000 }));
  await log.close();
  t.is((await linesOf(file))[0]!.repeated, undefined);
});

/** A sink of our own interface that fails while told to, and says when it is written to. */
class FlakySink implements LineSink {
  readonly path = 'flaky';
  failing: NodeJS.ErrnoException | undefined;
  data = '';
  reopens = 0;
  private waiters: (() => void)[] = [];
  async write(bytes: Buffer): Promise<number> {
    const waiters = this.waiters.splice(0);
    for (const w of waiters) w();
    if (this.failing) throw this.failing;
    this.data += bytes.toString('utf8');
    return bytes.length;
  }
  async reopen(): Promise<void> {
    this.reopens++;
  }
  async close(): Promise<void> {}
  nextWrite(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

test('after a write error the log retries by itself, keeps what it can, counts what it dropped, and recovers', async (t) => {
  const sink = new FlakySink();
  const line = JSON.stringify(denial(1)).length + 1;
  const said: string[] = [];
  const log = AuditLog.over(sink, {
    timers: false,
    maxQueuedBytes: 5 * line,
    firstRetryMs: 1,
    maxRetryMs: 5,
    log: (l) => said.push(l),
  });
  t.teardown(() => log.close());
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  sink.failing = enospc;
  // Distinct secrets: each is a first refusal, so each is a line.
  for (let i = 0; i < 3; i++) log.record(denial(i, { secret: `s${i}` }));
  await log.flush();
  t.like(log.health(), { state: 'failing', lastError: enospc.message, pendingLines: 3, droppedLines: 0 });
  for (let i = 3; i < 8; i++) log.record(denial(i, { secret: `s${i}` }));
  t.like(log.health(), { pendingLines: 5, droppedLines: 3 }, 'the queue is bounded; what it cannot hold is counted');

  // The retry timer tries again (reopening the path first) without anyone asking: still failing…
  await sink.nextWrite();
  await log.flush();
  t.like(log.health(), { state: 'failing' });
  // …then the disk has room again: the next retry writes everything that waited.
  sink.failing = undefined;
  await sink.nextWrite();
  await log.flush();
  t.like(log.health(), { state: 'ok', pendingLines: 0, droppedLines: 3, writtenLines: 5 });
  t.true(sink.reopens >= 2);
  t.truthy(log.health().lastErrorAt, 'the last error stays visible after recovery');
  log.record(denial(99, { secret: 'later' }));
  await log.flush();
  t.true(sink.data.includes('"secret":"later"'), 'events after an error are written, not dropped forever');
  t.deepEqual(log.health().decisions, { allow: 0, deny: 9, error: 0 });
  // pald's own log hears of it once when it starts failing and once when it recovers.
  t.is(said.length, 2);
  t.regex(said[0]!, /^pald: audit log FAILING: cannot write to flaky: ENOSPC/);
  t.regex(said[1]!, /^pald: audit log recovered: .*3 line\(s\) dropped/);
});

test('a real ENOSPC (/dev/full): failing with the error and dropped lines counted; a reopen onto a good file recovers', async (t) => {
  const file = path.join(dir, 'full.log');
  await symlink('/dev/full', file);
  const modeBefore = (await stat('/dev/full')).mode;
  const line = JSON.stringify(denial(1)).length + 1;
  const log = await AuditLog.open(file, { timers: false, maxQueuedBytes: 4 * line, firstRetryMs: 60_000 });
  t.teardown(() => log.close());
  t.is((await stat('/dev/full')).mode, modeBefore, 'a device the path names is never chmod-ed');
  for (let i = 0; i < 2; i++) log.record(denial(i, { secret: `s${i}` }));
  await log.flush();
  t.like(log.health(), { state: 'failing', pendingLines: 2 });
  t.regex(log.health().lastError ?? '', /ENOSPC/);
  for (let i = 2; i < 6; i++) log.record(denial(i, { secret: `s${i}` }));
  t.like(log.health(), { droppedLines: 2, pendingLines: 4 });

  // The operator frees the path (here: points it at a regular file) and sends SIGHUP.
  await unlink(file);
  await writeFile(file, '');
  await log.reopen();
  t.like(log.health(), { state: 'ok', pendingLines: 0, droppedLines: 2, writtenLines: 4 });
  t.deepEqual(
    (await linesOf(file)).map((l) => l.secret),
    ['s0', 's1', 's2', 's3'],
  );
});

test('reopen (SIGHUP after logrotate) continues in a new file at the path', async (t) => {
  const file = path.join(dir, 'rotate.log');
  const log = await AuditLog.open(file, { timers: false });
  t.teardown(() => log.close());
  log.record(denial(1, { secret: 'before' }));
  await log.flush();
  await rename(file, `${file}.1`);
  log.record(denial(2, { secret: 'between' })); // written to the old file: rotation keeps it
  await log.flush();
  await log.reopen();
  log.record(denial(3, { secret: 'after' }));
  await log.flush();
  t.deepEqual(
    (await linesOf(`${file}.1`)).map((l) => l.secret),
    ['before', 'between'],
  );
  t.deepEqual(
    (await linesOf(file)).map((l) => l.secret),
    ['after'],
  );
  t.is((await stat(file)).mode & 0o777, 0o600);
});
