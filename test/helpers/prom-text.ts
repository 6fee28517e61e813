// A strict parser of the Prometheus text exposition format 0.0.4 (the format prom-client
// writes), for tests: throws on anything the format does not allow, so "it parses" means
// something. Checks: line grammar (HELP/TYPE comments, samples with escaped label values and a
// float value), every sample belongs to a family declared by TYPE before it, one TYPE per family,
// counters are non-negative, histogram buckets are cumulative and +Inf equals _count.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help?: string | undefined;
  readonly samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*';
const VALUE = '(?:[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?Inf|NaN)';
const SAMPLE_RE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (${VALUE})(?: (-?[0-9]+))?$`);
const LABEL_PAIR_RE = new RegExp(`^(${LABEL})="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"(,|$)`);
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text: string): number {
  if (/^[+]?Inf$/.test(text)) return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  return Number(text);
}

function parseLabels(text: string, line: number): Record<string, string> {
  const labels: Record<string, string> = Object.create(null) as Record<string, string>;
  let rest = text;
  while (rest.length > 0) {
    const m = LABEL_PAIR_RE.exec(rest);
    if (!m) throw new Error(`line ${line}: bad label set {${text}}`);
    const [all, name, raw] = m;
    if (name! in labels) throw new Error(`line ${line}: label ${name} twice`);
    labels[name!] = raw!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(all.length);
  }
  return labels;
}

/** The family a sample name belongs to (histogram/summary samples carry suffixes). */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  const exact = families.get(name);
  if (exact) return exact;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const f = families.get(name.slice(0, -suffix.length));
    if (f && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return f;
  }
  return undefined;
}

export function parseExposition(text: string): Map<string, Family> {
  if (text !== '' && !text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const families = new Map<string, Family>();
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw === '') return;
    if (raw.startsWith('#')) {
      const m = new RegExp(`^# (HELP|TYPE) (${NAME}) ?(.*)$`).exec(raw);
      if (!m) return; // other comments are allowed
      const [, kind, name, rest] = m;
      if (kind === 'TYPE') {
        if (!TYPES.has(rest!)) throw new Error(`line ${line}: unknown type "${rest}"`);
        if (families.has(name!)) throw new Error(`line ${line}: second TYPE for ${name}`);
        families.set(name!, { name: name!, type: rest as Family['type'], samples: [] });
      } else {
        const f = families.get(name!);
        if (f) f.help = rest;
      }
      return;
    }
    const m = SAMPLE_RE.exec(raw);
    if (!m) throw new Error(`line ${line}: not a sample: ${JSON.stringify(raw)}`);
    const [, name, labelText, valueText] = m;
    const family = familyOf(name!, families);
    if (!family) throw new Error(`line ${line}: sample ${name} before (or without) its TYPE`);
    const value = parseValue(valueText!);
    if (family.type === 'counter' && !(value >= 0)) throw new Error(`line ${line}: counter ${name} = ${valueText}`);
    family.samples.push({ name: name!, labels: parseLabels(labelText ?? '', line), value });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}: bucket without le`);
      entry.buckets.push([parseValue(le), s.value]);
    } else if (s.name === `${f.name}_count`) entry.count = s.value;
  }
  for (const [key, { buckets, count }] of series) {
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]![0] > buckets[i - 1]![0]) || buckets[i]![1] < buckets[i - 1]![1])
        throw new Error(`${f.name}${key}: buckets not cumulative`);
    }
    const last = buckets[buckets.length - 1];
    if (!last || last[0] !== Infinity || last[1] !== count)
      throw new Error(`${f.name}${key}: +Inf bucket must equal _count`);
  }
}

/** The value of one sample (labels must match exactly the ones given), or undefined. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      const keys = Object.keys(s.labels);
      if (keys.length === Object.keys(labels).length && keys.every((k) => s.labels[k] === labels[k])) return s.value;
    }
  }
  return undefined;
}
