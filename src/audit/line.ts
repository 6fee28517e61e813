// An audit line's text (SPEC §5), byte for byte what `JSON.stringify(sanitizeEvent(e))` gives, at a
// fraction of its cost. On the warm path pald writes one line per open the addon answered in C;
// JSON.stringify walked a fresh object of 12 keys and escaped every string of it each time, about
// half of the JS work per open. Here the line is concatenated field by field in SPEC order with
// sanitizeEvent's coercions, and each string is escaped by JSON.stringify itself once: the escaped
// form is kept in a bounded cache keyed by the string (container, image, secret, reason and labels
// repeat from line to line). A property test (test/unit/audit/line.test.ts) holds this to
// JSON.stringify's bytes for hostile values.

import type { AuditEvent } from './event.js';
import { sameList } from '../shared/same-list.js';

/** Escaped strings kept at most; the cache starts over beyond (a flood of new names costs speed only). */
const MAX_CACHED_STRINGS = 4096;
/** Longer strings (a long error message) are escaped each time rather than kept. */
const MAX_CACHED_LENGTH = 512;

/** Middles remembered (a few callers interleave in one batch; each process is a caller of its own). */
const MEMOS = 16;

interface Middle {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
  readonly container: string | undefined;
  readonly pod: string | undefined;
  readonly image: string | undefined;
  readonly labels: readonly string[] | undefined;
  readonly labelItems: readonly string[] | undefined;
  readonly secret: string | undefined;
  readonly op: string;
  readonly decision: string;
  readonly reason: string;
  readonly json: string;
  readonly extraBytes: number;
}

interface Quoted {
  readonly json: string;
  /** UTF-8 bytes beyond one per UTF-16 unit (0 for ASCII). */
  readonly extraBytes: number;
}

function quote(s: string): Quoted {
  const json = JSON.stringify(s);
  return { json, extraBytes: Buffer.byteLength(json) - json.length };
}

/** JSON's text of a number as sanitizeEvent left it: non-finite numbers are null. */
function numberJson(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

/** Whether `s` needs no escaping in JSON (no quote, backslash, control char or surrogate). */
function plainAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) return false;
  }
  return true;
}

export class AuditLineFormatter {
  private readonly strings = new Map<string, Quoted>();
  /** Per labels array (the trust decision's, the same array line after line): its text and what it held. */
  private readonly labelSets = new WeakMap<readonly string[], { readonly items: readonly string[]; json: Quoted }>();
  /** The middles of the last few distinct (caller, secret, decision): a batch's lines repeat them. */
  private readonly memos: Middle[] = [];
  private extraBytes = 0;
  /** UTF-8 length of the line format() returned last (the writer's queue is bounded in bytes). */
  bytes = 0;

  /** The line of `e` as JSON.stringify(sanitizeEvent(e, keepCount)) writes it. */
  format(e: AuditEvent, keepCount: boolean): string {
    this.extraBytes = 0;
    const time = String(e.time);
    const repeated = keepCount ? Number(e.repeated) : 1;
    // One flat string (Array#join): a concatenation would leave a rope of ~25 pieces per line for
    // the writer's join to walk and the GC to collect.
    const parts = [
      '{"time":',
      plainAscii(time) ? `"${time}"` : this.quoted(time),
      this.middle(e),
      ',"latency_us":',
      numberJson(Math.round(Number(e.latency_us))),
      Number.isSafeInteger(repeated) && repeated > 1 ? `,"repeated":${repeated}}` : '}',
    ];
    const line = parts.join('');
    this.bytes = line.length + this.extraBytes;
    return line;
  }

  /**
   * The part of format(e)'s line from `,"uid":` through the reason: what stays the same for every
   * open the warm path's addon replays for a lease (it writes the time, pid and latency itself).
   */
  tailAfterPid(e: AuditEvent): string {
    const middle = this.middle(e);
    this.extraBytes = 0;
    return middle.slice(`,"pid":${numberJson(Number(e.pid))}`.length);
  }

  /** From `,"pid":` to the reason: the same for every line of one caller's decision on one secret. */
  private middle(e: AuditEvent): string {
    const memo = this.memos;
    for (let i = 0; i < memo.length; i++) {
      const m = memo[i]!;
      if (
        m.pid === e.pid &&
        m.uid === e.uid &&
        m.gid === e.gid &&
        m.container === e.container &&
        m.pod === e.pod &&
        m.image === e.image &&
        m.secret === e.secret &&
        m.op === e.op &&
        m.decision === e.decision &&
        m.reason === e.reason &&
        m.labels === e.labels &&
        (e.labels === undefined || sameList(m.labelItems!, e.labels))
      ) {
        this.extraBytes += m.extraBytes;
        return m.json;
      }
    }
    const before = this.extraBytes;
    const decision = e.decision === 'allow' || e.decision === 'deny' ? e.decision : 'error';
    const parts = [
      ',"pid":',
      numberJson(Number(e.pid)),
      ',"uid":',
      numberJson(Number(e.uid)),
      ',"gid":',
      numberJson(Number(e.gid)),
    ];
    if (e.container !== undefined) parts.push(',"container":', this.quoted(String(e.container)));
    if (e.pod !== undefined) parts.push(',"pod":', this.quoted(String(e.pod)));
    if (e.image !== undefined) parts.push(',"image":', this.quoted(String(e.image)));
    if (e.labels !== undefined) parts.push(',"labels":', this.labelsJson(e.labels));
    if (e.secret !== undefined) parts.push(',"secret":', this.quoted(String(e.secret)));
    parts.push(
      ',"op":',
      this.quoted(String(e.op)),
      ',"decision":"',
      decision,
      '","reason":',
      this.quoted(String(e.reason)),
    );
    const json = parts.join('');
    // Only numbers and strings are remembered: a value whose String() could change is formatted each time.
    const stable =
      [e.pid, e.uid, e.gid].every((n) => typeof n === 'number') &&
      [e.container, e.pod, e.image, e.secret, e.op, e.reason].every((v) => v === undefined || typeof v === 'string') &&
      (e.labels === undefined || e.labels.every((l) => typeof l === 'string'));
    if (stable) {
      if (memo.length >= MEMOS) memo.pop();
      memo.unshift({
        pid: e.pid,
        uid: e.uid,
        gid: e.gid,
        container: e.container,
        pod: e.pod,
        image: e.image,
        labels: e.labels,
        labelItems: e.labels?.slice(),
        secret: e.secret,
        op: e.op,
        decision: e.decision,
        reason: e.reason,
        json,
        extraBytes: this.extraBytes - before,
      });
    }
    return json;
  }

  private quoted(s: string): string {
    let q = this.strings.get(s);
    if (q === undefined) {
      q = quote(s);
      if (s.length <= MAX_CACHED_LENGTH) {
        if (this.strings.size >= MAX_CACHED_STRINGS) this.strings.clear();
        this.strings.set(s, q);
      }
    }
    this.extraBytes += q.extraBytes;
    return q.json;
  }

  /** As JSON.stringify(labels.map(String)); kept per array while it holds the same items. */
  private labelsJson(labels: readonly string[]): string {
    const known = this.labelSets.get(labels);
    if (known !== undefined && sameList(known.items, labels)) {
      this.extraBytes += known.json.extraBytes;
      return known.json.json;
    }
    const json = JSON.stringify(labels.map(String));
    const q = { json, extraBytes: Buffer.byteLength(json) - json.length };
    this.labelSets.set(labels, { items: labels.slice(), json: q });
    this.extraBytes += q.extraBytes;
    return json;
  }
}
