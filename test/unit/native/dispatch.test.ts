// How a batch of the warm path's events reaches the handlers (src/native/dispatch.ts
// deliverFastEvents): the audit lines the addon wrote go over in runs, each before the next event
// whose line JS writes, so the log keeps the order of the opens.
import test from 'ava';
import { FAST_EVENT_FIELDS, FastEventKind } from '../../../src/native/binding.js';
import { deliverFastEvents } from '../../../src/native/dispatch.js';
import type { FastPathEvent, FuseHandlers } from '../../../src/native/types.js';

/** An opened event with `lineBytes` of the addon's line (0: JS writes it), as fuse_bridge.c lays it out. */
function opened(fh: number, lineBytes: number): number[] {
  const e = [FastEventKind.opened, 42, 1000, 1000, 5, fh, 1, 3, 1_700_000_000_000, 1, lineBytes];
  if (e.length !== FAST_EVENT_FIELDS) throw new Error('the layout changed: update this test');
  return e;
}

function handlersSeeing(seen: string[], withLines = true): FuseHandlers {
  const unused = (): never => {
    throw new Error('not a request test');
  };
  return {
    lookup: unused,
    getattr: unused,
    readdir: unused,
    open: unused,
    read: unused,
    release: unused,
    fastEvent: (e: FastPathEvent) =>
      void seen.push(e.kind === 'opened' ? `open ${e.fh}${e.audited ? ' (line by the addon)' : ''}` : e.kind),
    ...(withLines
      ? { fastAuditLines: (lines: Buffer, count: number) => void seen.push(`lines ${count}: ${lines.toString()}`) }
      : {}),
  };
}

const fail = (err: unknown): void => {
  throw err;
};

test("the addon's lines go over in runs, each before the next line JS writes", (t) => {
  const seen: string[] = [];
  const batch = new Float64Array([
    ...opened(1, 2),
    ...opened(2, 2),
    ...opened(3, 0),
    ...opened(4, 2),
    FastEventKind.retired,
    ...Array<number>(FAST_EVENT_FIELDS - 1).fill(0),
  ]);
  deliverFastEvents(handlersSeeing(seen), fail, batch, Buffer.from('a\nb\nd\n'));
  t.deepEqual(seen, [
    'open 1 (line by the addon)',
    'open 2 (line by the addon)',
    'lines 2: a\nb\n',
    'open 3',
    'open 4 (line by the addon)',
    'retired',
    'lines 1: d\n',
  ]);
});

test('handlers that take no lines of the addon write every line themselves', (t) => {
  const seen: string[] = [];
  const batch = new Float64Array([...opened(1, 2), ...opened(2, 2)]);
  deliverFastEvents(handlersSeeing(seen, false), fail, batch, Buffer.from('a\nb\n'));
  t.deepEqual(seen, ['open 1', 'open 2']);
  // ... and so do handlers given no lines (the addon had no memory for them).
  const none: string[] = [];
  deliverFastEvents(handlersSeeing(none), fail, batch, null);
  t.deepEqual(none, ['open 1', 'open 2']);
});
