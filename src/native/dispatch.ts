// The dispatcher the addon calls on the JS thread for each FUSE request (native/src/fuse_bridge.c
// call_js): it runs the FuseHandlers method for the op and replies whenever the result settles, so
// one slow caller never holds up the others. One small answerer per op, in a table keyed by op, all
// replying through `settle` (the handler's value, or its error's errno).
import { binding, FAST_EVENT_FIELDS, FastEventKind, Op, type Dispatch, type RequestHandle } from './binding.js';
import { Errno, explicitErrno } from './errors.js';
import { handleOf } from './secure-buffer.js';
import type { CallerContext, FastPathEvent, FuseHandlers, OpenReply } from './types.js';

type Report = (err: unknown, op: string) => void;

/** One request that awaits an answer: who asks, about which inode, and the op's own arguments. */
interface Request {
  readonly req: RequestHandle;
  readonly ctx: CallerContext;
  readonly ino: number;
  readonly a: unknown;
  readonly b: unknown;
  readonly c: unknown;
}

/** Runs a handler and answers the request with its value (through `ok`) or its error's errno. */
type Settle = <T>(run: () => T | Promise<T>, ok: (v: T) => void) => void;

/** Answers one request of its op: calls the handler through `settle` and turns its value into the reply. */
type Answerer = (handlers: FuseHandlers, r: Request, settle: Settle, report: Report) => void;

const opNames: Record<number, string> = Object.fromEntries(Object.entries(Op).map(([k, v]) => [v, k]));

function isThenable<T>(v: T | Promise<T>): v is Promise<T> {
  return v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * Event `i` of a batch (fuse_bridge.c take_events: FAST_EVENT_FIELDS doubles each); `addonLines`:
 * the addon's audit lines reach the handlers (else JS writes every line).
 */
function fastEventAt(b: Float64Array, i: number, addonLines: boolean): FastPathEvent {
  const kind = b[i]!;
  if (kind === FastEventKind.opened) {
    const ctx = { pid: b[i + 1]!, uid: b[i + 2]!, gid: b[i + 3]! };
    return {
      kind: 'opened',
      ctx,
      ino: b[i + 4]!,
      fh: b[i + 5]!,
      lease: b[i + 6]!,
      latencyUs: b[i + 7]!,
      timeMs: b[i + 8]!,
      closed: b[i + 9] !== 0,
      returned: b[i + 9] === 1,
      audited: addonLines && b[i + 10]! > 0,
    };
  }
  if (kind === FastEventKind.released)
    return { kind: 'released', ino: b[i + 4]!, fh: b[i + 5]!, lease: b[i + 6]!, returned: b[i + 7] !== 0 };
  return { kind: 'retired' };
}

/**
 * Hands a batch of the warm path's events to the handlers, in order; a failure is only reported.
 * `lines`: the audit lines the addon wrote for some of its opens (each opened event tells how many
 * bytes are its own), handed over in runs, each before the next event whose line JS writes, so the
 * log keeps the order of the opens.
 */
export function deliverFastEvents(
  handlers: FuseHandlers,
  report: Report,
  batch: Float64Array | null,
  lines: Buffer | null = null,
): void {
  if (!batch || !handlers.fastEvent) return;
  const take = handlers.fastAuditLines?.bind(handlers);
  const addonLines = lines !== null && take !== undefined;
  let runStart = 0;
  let runEnd = 0;
  let runCount = 0;
  const handOver = (): void => {
    if (runCount === 0) return;
    try {
      take!(lines!.subarray(runStart, runEnd), runCount);
    } catch (err) {
      report(err, 'fastAuditLines');
    }
    runStart = runEnd;
    runCount = 0;
  };
  for (let i = 0; i + FAST_EVENT_FIELDS <= batch.length; i += FAST_EVENT_FIELDS) {
    if (addonLines && batch[i] === FastEventKind.opened) {
      const lineBytes = batch[i + 10]!;
      if (lineBytes > 0) {
        runEnd += lineBytes;
        runCount++;
      } else {
        handOver(); // this open's line is JS's to write: the addon's earlier ones go first
      }
    }
    try {
      handlers.fastEvent(fastEventAt(batch, i, addonLines));
    } catch (err) {
      report(err, 'fastEvent');
    }
  }
  handOver();
}

const answerLookup: Answerer = (handlers, r, settle) =>
  settle(
    () => handlers.lookup(r.ctx, r.ino, r.a as string),
    (e) =>
      binding.replyEntry(
        r.req,
        e.attr.ino,
        e.attr.mode,
        e.attr.nlink,
        e.attr.uid,
        e.attr.gid,
        e.attr.size,
        e.attr.mtimeMs,
        e.entryTimeout,
        e.attrTimeout,
      ),
  );

const answerGetattr: Answerer = (handlers, r, settle) =>
  settle(
    () => handlers.getattr(r.ctx, r.ino),
    (g) =>
      binding.replyAttr(
        r.req,
        g.attr.ino,
        g.attr.mode,
        g.attr.nlink,
        g.attr.uid,
        g.attr.gid,
        g.attr.size,
        g.attr.mtimeMs,
        g.attrTimeout,
      ),
  );

const answerReaddir: Answerer = (handlers, r, settle) =>
  settle(
    () => handlers.readdir(r.ctx, r.ino),
    (entries) => {
      const names: string[] = [];
      const inos: number[] = [];
      const modes: number[] = [];
      for (const e of entries) {
        names.push(e.name);
        inos.push(e.attr.ino);
        modes.push(e.attr.mode);
      }
      binding.replyDir(r.req, names, inos, modes);
    },
  );

const answerOpen: Answerer = (handlers, r, settle, report) =>
  settle(
    () => handlers.open(r.ctx, r.ino, r.a as number),
    (o: OpenReply) => {
      const content =
        o.content === undefined ? null : o.content instanceof Uint8Array ? o.content : handleOf(o.content);
      const releaseOurselves = (): void =>
        void Promise.resolve(handlers.release(r.ctx, r.ino, o.fh)).catch((err) => report(err, 'release'));
      let delivered: boolean;
      try {
        delivered = binding.replyOpen(r.req, o.fh, o.directIo, o.keepCache, content, o.trueSize ?? null);
      } catch (err) {
        releaseOurselves(); // refused (bad content): no file handle, so no release will come
        throw err;
      }
      // The open was interrupted: the kernel will never release this handle, so we do.
      if (!delivered) releaseOurselves();
    },
  );

const answerRead: Answerer = (handlers, r, settle) =>
  settle(
    () => handlers.read(r.ctx, r.ino, r.a as number, r.b as number, r.c as number),
    (buf) => binding.replyBuf(r.req, buf),
  );

const answerStatfs: Answerer = (handlers, r, settle) =>
  settle(
    () => (handlers.statfs ? handlers.statfs(r.ctx, r.ino) : { blocks: 0, files: 0, nameMax: 255 }),
    (s) => binding.replyStatfs(r.req, s.blocks, s.files, s.nameMax),
  );

/** The ops that get an answer; any other op with a request is answered ENOSYS. */
const answerers = new Map<number, Answerer>([
  [Op.lookup, answerLookup],
  [Op.getattr, answerGetattr],
  [Op.readdir, answerReaddir],
  [Op.open, answerOpen],
  [Op.read, answerRead],
  [Op.statfs, answerStatfs],
]);

/** Answers `req` with the value of `run` (through `ok`) or its error's errno; EIO, reported, if it has none. */
function settleRequest<T>(
  req: RequestHandle,
  op: number,
  report: Report,
  run: () => T | Promise<T>,
  ok: (v: T) => void,
): void {
  const fail = (err: unknown): void => {
    const errno = explicitErrno(err);
    if (errno === undefined) report(err, opNames[op] ?? String(op)); // not an answer: a failure
    try {
      binding.replyErr(req, errno ?? Errno.EIO);
    } catch {
      // already answered: nothing left to tell the kernel
    }
  };
  const deliver = (v: T): void => {
    try {
      ok(v);
    } catch (err) {
      fail(err); // a malformed reply (bad attr, wrong type): the caller gets EIO
    }
  };
  let v: T | Promise<T>;
  try {
    v = run();
  } catch (err) {
    fail(err);
    return;
  }
  if (isThenable(v)) v.then(deliver, fail);
  else deliver(v);
}

/** A release notification (no request to answer): a failure is only reported. */
function notifyRelease(handlers: FuseHandlers, report: Report, ctx: CallerContext, ino: number, fh: number): void {
  try {
    const r = handlers.release(ctx, ino, fh);
    if (isThenable(r)) r.then(undefined, (err: unknown) => report(err, 'release'));
  } catch (err) {
    report(err, 'release');
  }
}

/** onError wrapped so that it never keeps a request from being answered. */
export function safeReport(onError: Report): Report {
  return (err, op) => {
    try {
      onError(err, op);
    } catch {
      // nothing better to do with an error about an error
    }
  };
}

export function makeDispatch(handlers: FuseHandlers, onError: Report): Dispatch {
  const report = safeReport(onError);
  return (op, req, pid, uid, gid, ino, a, b, c) => {
    if (op === Op.fastBatch) {
      // The warm path's events and the audit lines the addon wrote: no request to answer.
      deliverFastEvents(handlers, report, a as Float64Array, b as Buffer | null);
      return;
    }
    const ctx: CallerContext = { pid, uid, gid };
    if (op === Op.release) {
      notifyRelease(handlers, report, ctx, ino, a as number);
      return;
    }
    if (req === null) return;
    const answer = answerers.get(op);
    if (answer === undefined) {
      binding.replyErr(req, Errno.ENOSYS);
      return;
    }
    const settle: Settle = (run, ok) => settleRequest(req, op, report, run, ok);
    answer(handlers, { req, ctx, ino, a, b, c }, settle, report);
  };
}
