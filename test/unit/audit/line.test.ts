// The audit line formatter (src/audit/line.ts) and time formatter (src/audit/time.ts) against what
// they replace: JSON.stringify(sanitizeEvent(e)) and Date#toISOString, byte for byte, for hostile
// values (quotes, backslashes, control chars, lone surrogates, astral chars, huge and non-finite
// numbers), across their caches (one formatter for a whole sequence, fields repeated and labels
// arrays changed in place), and for times around second, day and year boundaries in several time
// zones. Each property also runs against a deliberately broken formatter, which it must catch.
import test from 'ava';
import fc from 'fast-check';
import { sanitizeEvent, type AuditEvent } from '../../../src/audit/event.js';
import { AuditLineFormatter } from '../../../src/audit/line.js';
import { isoTime } from '../../../src/audit/time.js';

type Format = (e: AuditEvent, keepCount: boolean) => { line: string; bytes: number };

const hostileChar = fc.oneof(
  fc.constantFrom('"', '\\', '\u0000', '\b', '\n', '\u001f', '\u007f', '\u2028', '\u2029', '\ud800', '\udfff'),
  fc.constantFrom('😀', 'é', '/', '<', '\ufeff', '\uffff', 'a', ' '),
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), // any code unit, lone surrogates too
);
const hostileString = fc.string({ unit: hostileChar, maxLength: 12 });
const hostileNumber = fc.oneof(
  fc.integer(),
  fc.double(), // NaN, ±Infinity, -0, subnormals
  fc.constantFrom(1e21, 2 ** 53 + 2, -(2 ** 53) - 2, Number.MAX_VALUE, 5e-324, 0.5, -0.5, 1.5, 123456.789),
);

/** A small pool of each field: a sequence repeats values (the caches' hits) and changes them (their misses). */
const eventsArb = fc
  .record({
    strings: fc.array(hostileString, { minLength: 1, maxLength: 4 }),
    numbers: fc.array(hostileNumber, { minLength: 1, maxLength: 3 }),
    labelSets: fc.array(fc.array(hostileString, { maxLength: 3 }), { minLength: 1, maxLength: 3 }),
  })
  .chain(({ strings, numbers, labelSets }) => {
    const str = fc.constantFrom(...strings);
    const num = fc.oneof(fc.constantFrom(...numbers), hostileNumber);
    const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
    const event = fc.record({
      time: fc.oneof(
        str,
        fc.integer({ min: -8.64e15, max: 8.64e15 }).map((ms) => new Date(ms).toISOString()),
      ),
      pid: num,
      uid: num,
      gid: num,
      container: opt(str),
      pod: opt(str),
      image: opt(str),
      labels: opt(fc.nat(labelSets.length - 1)),
      secret: opt(str),
      op: str,
      decision: fc.constantFrom('allow', 'deny', 'error', 'bogus'),
      reason: str,
      latency_us: hostileNumber,
      repeated: opt(hostileNumber),
      keepCount: fc.boolean(),
      // Changes the labels array it names in place before this event (the same array, new items).
      relabel: opt(hostileString),
    });
    return fc.tuple(fc.constant(labelSets), fc.array(event, { minLength: 1, maxLength: 25 }));
  });

function checkLines(t: import('ava').ExecutionContext, makeFormat: () => Format, numRuns = 300): void {
  fc.assert(
    fc.property(eventsArb, ([labelSets, events]) => {
      const format = makeFormat();
      const arrays = labelSets.map((l) => [...l]);
      for (const { keepCount, relabel, labels, ...fields } of events) {
        if (relabel !== undefined && labels !== undefined) arrays[labels]!.push(relabel);
        const e = { ...fields, ...(labels === undefined ? {} : { labels: arrays[labels]! }) } as AuditEvent;
        const want = JSON.stringify(sanitizeEvent(e, keepCount));
        for (let twice = 0; twice < 2; twice++) {
          const { line, bytes } = format(e, keepCount);
          if (line !== want) throw new Error(`line ${JSON.stringify(line)} ≠ ${JSON.stringify(want)}`);
          if (bytes !== Buffer.byteLength(want)) throw new Error(`bytes ${bytes} ≠ ${Buffer.byteLength(want)}`);
        }
      }
    }),
    { numRuns },
  );
  t.pass();
}

const realFormat = (): Format => {
  const f = new AuditLineFormatter();
  return (e, keepCount) => ({ line: f.format(e, keepCount), bytes: f.bytes });
};

test('an audit line is exactly JSON.stringify(sanitizeEvent(e)), and its byte count exact', (t) => {
  checkLines(t, realFormat, 1000);
});

test('the line property catches a formatter that writes control chars and lone surrogates unescaped', (t) => {
  const broken = (): Format => {
    const real = realFormat();
    return (e, keepCount) => {
      const { line } = real(e, keepCount);
      const raw = line.replace(/\\u([0-9a-f]{4})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
      return { line: raw, bytes: Buffer.byteLength(raw) };
    };
  };
  t.throws(() => checkLines(t, broken));
});

test('the line property catches a formatter that keeps a labels array text after the array changed', (t) => {
  const broken = (): Format => {
    const real = realFormat();
    const seen = new Map<readonly string[], string>();
    return (e, keepCount) => {
      const { line, bytes } = real(e, keepCount);
      if (e.labels === undefined) return { line, bytes };
      const first = seen.get(e.labels) ?? JSON.stringify(e.labels.map(String));
      seen.set(e.labels, first);
      const stale = line.replace(`"labels":${JSON.stringify(e.labels.map(String))}`, `"labels":${first}`);
      return { line: stale, bytes: Buffer.byteLength(stale) };
    };
  };
  t.throws(() => checkLines(t, broken));
});

/**
 * The line of an open the warm path's addon replays, as native/src/audit_line.c writes it: the
 * time, the opener's pid, the lease's tail (tailAfterPid, taken once when the lease was offered)
 * and the latency.
 */
function addonLine(tail: string, timeMs: number, pid: number, latencyUs: number): string {
  return `{"time":"${new Date(timeMs).toISOString()}","pid":${pid}${tail},"latency_us":${latencyUs}}`;
}

function checkAddonLines(
  t: import('ava').ExecutionContext,
  tailOf: (f: AuditLineFormatter, e: AuditEvent) => string,
): void {
  const opens = fc.array(
    fc.record({
      timeMs: fc.integer({ min: 0, max: 253402300799999 }), // what the addon writes: 1970..9999
      pid: fc.integer({ min: 1, max: 4194304 }),
      latencyUs: fc.nat(),
    }),
    { minLength: 1, maxLength: 4 },
  );
  fc.assert(
    fc.property(eventsArb, fc.array(opens, { minLength: 25, maxLength: 25 }), ([labelSets, events], replays) => {
      const f = new AuditLineFormatter();
      const arrays = labelSets.map((l) => [...l]);
      events.forEach(({ keepCount, relabel, labels, ...fields }, i) => {
        if (relabel !== undefined && labels !== undefined) arrays[labels]!.push(relabel);
        const e = { ...fields, ...(labels === undefined ? {} : { labels: arrays[labels]! }) } as AuditEvent;
        f.format(e, keepCount); // the formatter's caches, as lines of other decisions fill them
        if (e.decision !== 'allow') return;
        const tail = tailOf(f, e);
        for (const { timeMs, pid, latencyUs } of replays[i]!) {
          const replayed = { ...e, time: new Date(timeMs).toISOString(), pid, latency_us: latencyUs };
          const want = JSON.stringify(sanitizeEvent(replayed, false));
          const got = addonLine(tail, timeMs, pid, latencyUs);
          if (got !== want) throw new Error(`line ${JSON.stringify(got)} ≠ ${JSON.stringify(want)}`);
        }
      });
    }),
    { numRuns: 300 },
  );
  t.pass();
}

test("an open the addon replays gets JS's own line: its time, pid and latency around the lease's tail", (t) => {
  checkAddonLines(t, (f, e) => f.tailAfterPid(e));
});

test('the addon line property catches a tail cut one field short, or with its escapes undone', (t) => {
  t.throws(() => checkAddonLines(t, (f, e) => f.tailAfterPid(e).replace(/^,"uid":[^,]*/, '')));
  const unescaped = (s: string): string =>
    s.replace(/\\u([0-9a-f]{4})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  t.throws(() => checkAddonLines(t, (f, e) => unescaped(f.tailAfterPid(e))));
});

test('the audit log writes the lines the formatter is held to (allow lines and sanitized ones alike)', (t) => {
  const f = new AuditLineFormatter();
  const e = {
    time: '2026-12-01T19:00:00.000Z',
    pid: 7,
    uid: 0,
    gid: 0,
    labels: ['a"b', '\ud800'],
    op: 'open',
    decision: 'allow',
    reason: 'c:\\ "x"\n',
    latency_us: 1.5,
    repeated: 3,
    extra: 'never written',
  } as AuditEvent;
  t.is(f.format(e, true), JSON.stringify(sanitizeEvent(e, true)));
  t.false(f.format(e, false).includes('never written'));
});

// ---- time

const DAY = 86_400_000;
/** Instants around which a cached "YYYY-MM-DDTHH:MM:SS." prefix could go wrong. */
const BOUNDARIES = [
  0,
  DAY,
  Date.UTC(1969, 11, 31, 23, 59, 59, 999),
  Date.UTC(1999, 11, 31, 23, 59, 59, 999),
  Date.UTC(2000, 1, 29, 12),
  Date.UTC(2024, 1, 29, 23, 59, 59, 999),
  Date.UTC(2026, 11, 31, 23, 59, 59, 999),
  Date.UTC(9999, 11, 31, 23, 59, 59, 999), // the next ms is year +010000
  Date.UTC(0, 0, 1) - 1, // year -000001
  -62198755200000,
  8.64e15,
  -8.64e15,
];
const DELTAS = [-1001, -1000, -999, -1, -0.5, 0, 0.5, 1, 999, 1000, 1001];
const ZONES = ['UTC', 'America/St_Johns', 'Asia/Kathmandu', 'Pacific/Chatham', 'Pacific/Kiritimati', 'Europe/London'];

function expectedIso(ms: number): string {
  try {
    return new Date(ms).toISOString();
  } catch (err) {
    return `throws ${(err as Error).name}`;
  }
}

function checkTimes(format: (ms: number) => string, numRuns = 500): void {
  const actual = (ms: number): string => {
    try {
      return format(ms);
    } catch (err) {
      return `throws ${(err as Error).name}`;
    }
  };
  const near = fc
    .tuple(fc.constantFrom(...BOUNDARIES), fc.constantFrom(...DELTAS), fc.integer({ min: -3, max: 3 }))
    .map(([b, d, days]) => b + d + days * DAY);
  const anyTime = fc.oneof(
    near,
    fc.integer({ min: -8.64e15 - 2, max: 8.64e15 + 2 }),
    fc.double(),
    fc.constantFrom(-0, NaN, Infinity, -Infinity, 8.64e15 + 1, -8.64e15 - 1, 1.7e12 + 0.999),
  );
  // A sequence, so the per-second prefix and the last-ms cache carry over from call to call.
  fc.assert(
    fc.property(fc.array(anyTime, { minLength: 1, maxLength: 30 }), (times) => {
      for (const ms of times) if (actual(ms) !== expectedIso(ms)) throw new Error(`${ms}: ${actual(ms)}`);
    }),
    { numRuns },
  );
}

function inZones(t: import('ava').ExecutionContext, run: () => void): void {
  const before = process.env.TZ;
  try {
    for (const zone of ZONES) {
      process.env.TZ = zone;
      run();
    }
  } finally {
    if (before === undefined) delete process.env.TZ;
    else process.env.TZ = before;
  }
  t.pass();
}

test.serial('the time is exactly Date#toISOString around second, day and year boundaries, in any TZ', (t) => {
  inZones(t, () => checkTimes(isoTime));
});

test.serial('the time property catches a formatter that takes the prefix from local time', (t) => {
  // Plausible mistake: the prefix built from local fields (getHours…), right only where TZ is UTC.
  const local = (ms: number): string => {
    const d = new Date(ms);
    const p = (n: number, w = 2) => String(n).padStart(w, '0');
    const date = `${p(d.getFullYear(), 4)}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
    return `${date}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}Z`;
  };
  t.throws(() => inZones(t, () => checkTimes(local)));
});

test.serial('the time property catches a formatter that gets the milliseconds before 1970 wrong', (t) => {
  const naive = (ms: number): string => {
    const t0 = Math.trunc(ms);
    const msPart = Math.abs(t0 % 1000); // wrong below zero: -1 ms is .999 of the second before
    return new Date(t0 - (t0 % 1000)).toISOString().slice(0, 20) + `${String(msPart).padStart(3, '0')}Z`;
  };
  t.throws(() => checkTimes(naive));
});
