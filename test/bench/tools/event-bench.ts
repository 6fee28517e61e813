// Micro bench of the JS work per warm-path event (issue 14): what pald's JS thread does when the
// addon hands over a batch of opens and closes it answered in C (src/native/dispatch.ts
// deliverFastEvents → open-leases.ts → decision-audit.ts → the real AuditLog and PalMetrics).
// No FUSE, no addon: a fake FastPath takes the lease that a real open through the view offers,
// and synthetic batches name it, as fuse_bridge.c take_events lays them out. The audit log
// writes to a sink that drops the bytes (its write is off the JS thread in pald anyway).
//   node dist/test/bench/tools/event-bench.js [opens per batch=128] [batches per round=400] [rounds=5] [pairs|folded|lines]
// (lines: folded, and the addon wrote each open's audit line from the lease's tail, as
// native/src/audit_line.c does: JS hands the batch's lines to the log as they are.)
// Prints µs of JS per open (its `opened` plus its `released` event) for each round, then the median:
// inside deliverFastEvents, and with what follows a batch on the JS thread (microtasks, audit flush).
// Run it under `node --cpu-prof` for the breakdown.
import { AuditLog, type LineSink } from '../../../src/audit/index.js';
import { PalMetrics } from '../../../src/daemon/metrics.js';
import { createPalFilesystem } from '../../../src/fs/index.js';
import { FAST_EVENT_FIELDS, FastEventKind } from '../../../src/native/binding.js';
import { deliverFastEvents } from '../../../src/native/dispatch.js';
import { container, entry, fakeFastPath, harness, IMAGE_DEMO, FakeSecureBuffer } from '../../unit/fs/fakes.js';

const OPENS = Number(process.argv[2] ?? 128);
const BATCHES = Number(process.argv[3] ?? 400);
const ROUNDS = Number(process.argv[4] ?? 5);
const MODE = process.argv[5] ?? 'pairs';
const FOLDED = MODE === 'folded' || MODE === 'lines';
const LINES = MODE === 'lines';
const PID = 4242;

class DroppingSink implements LineSink {
  readonly path = '/dev/null (bench)';
  bytes = 0;
  async write(data: Buffer): Promise<number> {
    this.bytes += data.length;
    return data.length;
  }
  async reopen(): Promise<void> {}
  async close(): Promise<void> {}
}

async function main(): Promise<void> {
  const h = harness([entry('db-password', ['demo'], { size: 64 })]);
  h.identities.set(PID, container(PID, IMAGE_DEMO, 'bench-app'));
  h.plaintexts.set('db-password', { bytes: Buffer.alloc(64, 'x') });
  const sink = new DroppingSink();
  const audit = AuditLog.over(sink, { timers: true });
  const metrics = new PalMetrics({
    cache: () => ({ hits: 0, misses: 0 }),
    handles: () => ({ openHandles: 0, lockedBytes: 0 }),
    auditDropped: () => 0,
  });
  let lease: { id: number; ino: number; fhs: number[]; tail: string | undefined } | undefined;
  // Keeps the lease it is given (the unit tests' default refuses it).
  const addon = fakeFastPath({
    lease: (_g, _c, ino, id, content, fhs, tail) => {
      content.wipe();
      lease = { id, ino, fhs: [...fhs], tail: LINES ? tail : undefined };
      return true;
    },
  });
  let invalidations = 0;
  const fs = createPalFilesystem({
    ...h.deps,
    audit,
    metrics,
    fastPath: true,
    allocSecure: (b) => new FakeSecureBuffer(b),
    callerReuseMs: 1e9, // the lease's caller stays reusable for the whole run
  });
  fs.attachKernel({ invalidateEntry: () => undefined, invalidateInode: () => void invalidations++, fastPath: addon });
  const ctx = { pid: PID, uid: 1000, gid: 1000 };
  const ino = (await fs.handlers.lookup(ctx, 1, 'db-password')).attr.ino;
  // The first open decrypts, which teaches pald the sealed facts (no lease yet); the second is leased.
  for (let i = 0; i < 2; i++) await fs.handlers.release(ctx, ino, (await fs.handlers.open(ctx, ino, 0)).fh);
  if (!lease) throw new Error('no lease offered: the bench measures nothing');
  const { id, fhs, tail } = lease;
  if (LINES && tail === undefined) throw new Error('no audit tail offered: the lines mode measures nothing');
  let lines: Buffer | null = null;

  // One batch: OPENS opens, each closed right after (its handle number goes back to the lease):
  // an opened and a released event each, or (FOLDED) one opened event with its close folded in, as
  // the addon queues an open whose close came before JS took the batch (fast_events.c).
  const perOpen = FOLDED ? 1 : 2;
  const batch = new Float64Array(OPENS * perOpen * FAST_EVENT_FIELDS);
  const fill = (timeMs: number): void => {
    for (let k = 0; k < OPENS; k++) {
      const fh = fhs[k % fhs.length]!;
      const o = perOpen * k * FAST_EVENT_FIELDS;
      const opened = [FastEventKind.opened, PID, 1000, 1000, ino, fh, id, 12 + (k % 7), timeMs + (k >> 4)];
      const line = LINES
        ? `{"time":"${new Date(timeMs + (k >> 4)).toISOString()}","pid":${PID}${tail!},"latency_us":${12 + (k % 7)}}\n`
        : '';
      texts[k] = line;
      batch.set([...opened, FOLDED ? 1 : 0, Buffer.byteLength(line)], o);
      if (!FOLDED) batch.set([FastEventKind.released, 0, 0, 0, ino, fh, id, 1, 0, 0, 0], o + FAST_EVENT_FIELDS);
    }
    lines = LINES ? Buffer.from(texts.join('')) : null;
  };
  const texts: string[] = [];
  const report = (err: unknown): void => {
    throw err;
  };
  const perOpenUs: number[] = [];
  const wallPerOpenUs: number[] = [];
  for (let round = 0; round < ROUNDS + 1; round++) {
    let busyNs = 0n;
    const roundStart = process.hrtime.bigint();
    let fillNs = 0n;
    for (let b = 0; b < BATCHES; b++) {
      const filling = process.hrtime.bigint();
      fill(Date.now());
      const start = process.hrtime.bigint();
      fillNs += start - filling; // the bench's own work, not pald's
      deliverFastEvents(fs.handlers, report, batch, lines);
      busyNs += process.hrtime.bigint() - start;
      // What follows a batch in pald: its microtasks (coalesced last closes), timers (the audit flush).
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (round === 0) continue; // warms the JIT
    perOpenUs.push(Number(busyNs) / 1000 / (BATCHES * OPENS));
    wallPerOpenUs.push(Number(process.hrtime.bigint() - roundStart - fillNs) / 1000 / (BATCHES * OPENS));
  }
  await audit.close();
  // The median, and the least (on a shared machine the least disturbed round is the best estimate).
  const median = (xs: number[]): string => {
    const sorted = [...xs].sort((a, b) => a - b);
    return `${sorted[Math.floor(xs.length / 2)]!.toFixed(2)}, least ${sorted[0]!.toFixed(2)}`;
  };
  const list = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(' ');
  process.stdout.write(
    `event-bench: ${OPENS} opens+closes per batch, ${BATCHES} batches per round; µs of JS per open\n` +
      `  in deliverFastEvents: ${list(perOpenUs)}; median ${median(perOpenUs)}\n` +
      `  with what follows (microtasks, audit flush, the loop): ${list(wallPerOpenUs)}; median ${median(wallPerOpenUs)}\n` +
      `  (audit ${(sink.bytes / 1e6).toFixed(1)} MB, ${invalidations} invalidations)\n`,
  );
}

await main();
