// Aggregation of repeated refusals (SPEC §5): a container hammering a secret it may not read
// must not be able to fill the disk through our log. Per (op, container, secret, decision,
// reason) the first refusal is written as it happens; the ones after it, within an interval, are
// counted and written as one line carrying `"repeated": N`. Every decision is accounted for
// exactly once: a line without `repeated` stands for one, a line with it for N.
//
// Allowed opens are never folded: each one is an access to plaintext and keeps its own line.

import type { AuditEvent } from './event.js';

export interface RepeatAggregatorOptions {
  /** Length of an aggregation window. */
  readonly intervalMs: number;
  /** Monotonic milliseconds (injected in tests). */
  readonly now: () => number;
  /** Bound on windows tracked at once; beyond it the oldest is closed early (its count written). */
  readonly maxKeys: number;
}

interface Window {
  until: number;
  /** Refusals folded since the last line written for this key. */
  count: number;
  /** The newest folded refusal: the repeated line is written in its name. */
  last: AuditEvent | undefined;
}

/**
 * The aggregation key. Numbers are blanked in the reason: reasons that name a pid ("process 4711
 * is gone") would otherwise give a caller that spawns short-lived processes a new key, and a new
 * line, per process.
 */
function keyOf(e: AuditEvent): string {
  return `${e.op}\0${e.container ?? ''}\0${e.secret ?? ''}\0${e.decision}\0${e.reason.replace(/\d+/g, '#')}`;
}

export class RepeatAggregator {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly options: RepeatAggregatorOptions) {}

  /**
   * The lines to write for this event now: none when it was folded into its window. An event
   * arriving after its window ended closes that window: it is written with the count.
   */
  admit(e: AuditEvent): AuditEvent[] {
    if (e.decision === 'allow') return [e];
    const now = this.options.now();
    const key = keyOf(e);
    const window = this.windows.get(key);
    if (window === undefined) {
      const out: AuditEvent[] = [];
      if (this.windows.size >= this.options.maxKeys) this.evictOldest(out);
      this.windows.set(key, { until: now + this.options.intervalMs, count: 0, last: undefined });
      out.push(e);
      return out;
    }
    if (now < window.until) {
      window.count++;
      window.last = e;
      return [];
    }
    const repeated = window.count + 1;
    this.restart(window, now);
    // Re-inserted so that Map order stays oldest-window-first for eviction.
    this.windows.delete(key);
    this.windows.set(key, window);
    return [repeated > 1 ? { ...e, repeated } : e];
  }

  /** Lines for windows that ended with folded refusals; quiet windows are forgotten. */
  due(): AuditEvent[] {
    const now = this.options.now();
    const out: AuditEvent[] = [];
    for (const [key, window] of this.windows) {
      if (now < window.until) continue;
      if (window.count === 0) {
        this.windows.delete(key);
        continue;
      }
      out.push(this.summary(window));
      this.restart(window, now);
    }
    return out;
  }

  /** Lines for every folded refusal not yet written (at close). */
  drain(): AuditEvent[] {
    const out: AuditEvent[] = [];
    for (const window of this.windows.values()) if (window.count > 0) out.push(this.summary(window));
    this.windows.clear();
    return out;
  }

  /** Windows tracked now. */
  size(): number {
    return this.windows.size;
  }

  private summary(window: Window): AuditEvent {
    const last = window.last!;
    return window.count > 1 ? { ...last, repeated: window.count } : last;
  }

  private restart(window: Window, now: number): void {
    window.until = now + this.options.intervalMs;
    window.count = 0;
    window.last = undefined;
  }

  /** Closes the oldest window early (memory stays bounded, its count is still written). */
  private evictOldest(out: AuditEvent[]): void {
    const first = this.windows.entries().next();
    if (first.done === true) return;
    const [key, window] = first.value;
    this.windows.delete(key);
    if (window.count > 0) out.push(this.summary(window));
  }
}
