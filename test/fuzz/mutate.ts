// Input generators shared by the targets: realistic seeds (taken from the project's tests and
// fixtures) mutated by random edits, plus purely random text and bytes. fast-check draws every
// choice, so a run is reproducible from its seed.
import fc from 'fast-check';

/** Key names that collide with Object.prototype members (issue 21 item 3). */
export const PROTOTYPE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'toString',
  'valueOf',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  '__defineGetter__',
  '__lookupSetter__',
] as const;

/** Fragments that change structure in YAML, JSON, paths and /proc text. */
const STRUCTURE_TOKENS = [
  '- ',
  '-',
  ':',
  ': ',
  '[',
  ']',
  '{',
  '}',
  ',',
  '"',
  "'",
  '\\',
  '\n',
  '\r\n',
  '\r',
  '\t',
  ' ',
  '  ',
  '#',
  '&a ',
  '*a',
  '!!',
  '!!binary ',
  '!!map ',
  '!!str ',
  '? ',
  '|',
  '|-\n',
  '>',
  '%YAML 1.2\n',
  '---\n',
  '...\n',
  '<<: ',
  '<<: *a',
  '\0',
  '\u2028',
  '\u0085',
  '\uFEFF',
  '\uD800',
  'null',
  '~',
  '0x10',
  '1e999',
  '-0',
  '9007199254740993',
  'true',
  '.inf',
  '.nan',
  '0o777',
  '0777',
  '/',
  '..',
  '/../',
  '%2e',
  'é',
  '😀',
  '(',
  ')',
  'sha256:',
  '::',
  '0::/',
  '=',
  '\\u0000',
  '\\ud800',
  '{}',
  '[]',
  '""',
  'a:\n  b:\n    c:',
  '- - - -',
  '[[[[',
  '{"a":',
  '":"',
  '":{"',
  '","',
  '1',
  '-1',
  '4294967296',
  '1.5',
];

/** Hostile tokens: structure, and Object.prototype key names as keys and as values. */
export const HOSTILE_TOKENS: readonly string[] = [
  ...STRUCTURE_TOKENS,
  ...PROTOTYPE_KEYS,
  ...PROTOTYPE_KEYS.map((k) => `${k}: `),
  ...PROTOTYPE_KEYS.map((k) => `"${k}":`),
];

type TextEdit =
  | { readonly op: 'insert'; readonly at: number; readonly token: string; readonly times: number }
  | { readonly op: 'delete'; readonly at: number; readonly length: number }
  | { readonly op: 'duplicate'; readonly at: number; readonly length: number; readonly times: number }
  | { readonly op: 'replace'; readonly at: number; readonly char: string }
  | {
      readonly op: 'splice';
      readonly at: number;
      readonly other: number;
      readonly from: number;
      readonly length: number;
    }
  | { readonly op: 'truncate'; readonly at: number };

/** Mostly a few repeats; sometimes thousands (deep nesting, long runs, many keys). */
const times = fc.oneof(
  { weight: 8, arbitrary: fc.constant(1) },
  { weight: 4, arbitrary: fc.integer({ min: 2, max: 16 }) },
  { weight: 1, arbitrary: fc.integer({ min: 17, max: 4000 }) },
);

const randomChar = fc.oneof(
  fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  fc.constantFrom('\0', '\n', '"', ':', '-', '[', '{', '(', ')', '/', ' ', '\uD800', '\uFFFF'),
);

function textEdit(tokens: readonly string[]): fc.Arbitrary<TextEdit> {
  const at = fc.nat();
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        op: fc.constant('insert' as const),
        at,
        token: fc.oneof(fc.constantFrom(...tokens), fc.string({ maxLength: 8 })),
        times,
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({ op: fc.constant('delete' as const), at, length: fc.integer({ min: 1, max: 64 }) }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('duplicate' as const),
        at,
        length: fc.integer({ min: 1, max: 64 }),
        times,
      }),
    },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('replace' as const), at, char: randomChar }) },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('splice' as const),
        at,
        other: fc.nat(),
        from: fc.nat(),
        length: fc.integer({ min: 1, max: 256 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), at }) },
  );
}

function applyTextEdit(text: string, edit: TextEdit, seeds: readonly string[], maxLength: number): string {
  const at = edit.at % (text.length + 1);
  switch (edit.op) {
    case 'insert':
      return (
        text.slice(0, at) +
        edit.token.repeat(Math.max(1, Math.min(edit.times, Math.floor(maxLength / Math.max(1, edit.token.length))))) +
        text.slice(at)
      );
    case 'delete':
      return text.slice(0, at) + text.slice(at + edit.length);
    case 'duplicate': {
      const piece = text.slice(at, at + edit.length);
      if (piece === '') return text;
      const n = Math.min(edit.times, Math.floor(maxLength / piece.length));
      return text.slice(0, at) + piece.repeat(Math.max(1, n)) + text.slice(at);
    }
    case 'replace':
      return text.slice(0, at) + edit.char + text.slice(at + 1);
    case 'splice': {
      const other = seeds[edit.other % seeds.length] ?? '';
      const from = edit.from % (other.length + 1);
      return text.slice(0, at) + other.slice(from, from + edit.length) + text.slice(at);
    }
    case 'truncate':
      return text.slice(0, at);
  }
}

export interface TextOptions {
  /** Extra tokens for this grammar (its keys, its id shapes). */
  readonly tokens?: readonly string[];
  readonly maxEdits?: number;
  readonly maxLength?: number;
}

/** A realistic seed with 1..maxEdits random edits applied. */
export function mutatedText(seeds: readonly string[], options: TextOptions = {}): fc.Arbitrary<string> {
  const tokens = [...HOSTILE_TOKENS, ...(options.tokens ?? [])];
  const maxLength = options.maxLength ?? 256 * 1024;
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(textEdit(tokens), { minLength: 1, maxLength: options.maxEdits ?? 6 }))
    .map(([seed, edits]) => {
      let text = seed;
      for (const e of edits) {
        text = applyTextEdit(text, e, seeds, maxLength);
        if (text.length > maxLength) text = text.slice(0, maxLength);
      }
      return text;
    });
}

/** Random text: mostly printable with structure characters, some arbitrary code points. */
export function randomText(maxLength = 512): fc.Arbitrary<string> {
  const structured = fc.string({
    unit: fc.oneof(
      fc.constantFrom(...STRUCTURE_TOKENS, ...PROTOTYPE_KEYS),
      fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }),
    ),
    maxLength: Math.ceil(maxLength / 4),
  });
  return fc.oneof(
    structured,
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: 'grapheme-ascii', maxLength }),
  );
}

/** Seeds mutated (weight 6), random text (1), and seeds verbatim (1). */
export function hostileText(seeds: readonly string[], options: TextOptions = {}): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: mutatedText(seeds, options) },
    { weight: 1, arbitrary: randomText() },
    { weight: 1, arbitrary: fc.constantFrom(...seeds) },
  );
}

type ByteEdit =
  | { readonly op: 'flip'; readonly at: number; readonly bit: number }
  | { readonly op: 'set'; readonly at: number; readonly value: number }
  | { readonly op: 'delete'; readonly at: number; readonly length: number }
  | { readonly op: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly op: 'duplicate'; readonly at: number; readonly length: number; readonly times: number }
  | { readonly op: 'truncate'; readonly at: number };

const INTERESTING_BYTES = [
  0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x0a, 0x3a, 0xc0, 0xc1, 0xc2, 0xc3, 0xcb, 0xd1, 0xd2, 0xa3, 0xa8,
];

const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('set' as const),
      at: fc.nat(),
      value: fc.oneof(fc.constantFrom(...INTERESTING_BYTES), fc.integer({ min: 0, max: 255 })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 32 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('insert' as const),
      at: fc.nat(),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('duplicate' as const),
      at: fc.nat(),
      length: fc.integer({ min: 1, max: 64 }),
      times,
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }) },
);

function applyByteEdit(data: Uint8Array, edit: ByteEdit, maxLength: number): Uint8Array {
  const at = edit.at % (data.length + 1);
  const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));
  switch (edit.op) {
    case 'flip': {
      if (data.length === 0) return data;
      const out = data.slice();
      out[at % data.length]! ^= 1 << edit.bit;
      return out;
    }
    case 'set': {
      if (data.length === 0) return data;
      const out = data.slice();
      out[at % data.length] = edit.value;
      return out;
    }
    case 'delete':
      return concat(data.subarray(0, at), data.subarray(at + edit.length));
    case 'insert':
      return concat(data.subarray(0, at), edit.bytes, data.subarray(at));
    case 'duplicate': {
      const piece = data.subarray(at, at + edit.length);
      if (piece.length === 0) return data;
      const n = Math.max(1, Math.min(edit.times, Math.floor(maxLength / piece.length)));
      return concat(data.subarray(0, at), ...Array.from({ length: n }, () => piece), data.subarray(at));
    }
    case 'truncate':
      return data.slice(0, at);
  }
}

/** Realistic binary seeds with 1..maxEdits byte-level edits. */
export function mutatedBytes(
  seeds: readonly Uint8Array[],
  maxEdits = 4,
  maxLength = 1024 * 1024,
): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(byteEdit, { minLength: 1, maxLength: maxEdits }))
    .map(([seed, edits]) => {
      let data = seed;
      for (const e of edits) {
        data = applyByteEdit(data, e, maxLength);
        if (data.length > maxLength) data = data.slice(0, maxLength);
      }
      return data;
    });
}

/** JSON values whose object keys include Object.prototype names, for structured JSON inputs. */
export function hostileJsonValue(maxDepth = 6): fc.Arbitrary<unknown> {
  const key = fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS), fc.string({ maxLength: 8 }));
  const { value } = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', maxDepth },
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.double(),
      fc.string({ maxLength: 16 }),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map(entriesToObject),
    ),
  }));
  return value;
}

/** An object with own properties in this order, `__proto__` included (as JSON.parse makes them). */
export function entriesToObject(entries: ReadonlyArray<readonly [string, unknown]>): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of entries)
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

/** Show a string input as a JS literal, abbreviating long runs so reproducers stay readable. */
export function showText(text: string): string {
  return JSON.stringify(text);
}

/** Show bytes as a JS expression. */
export function showBytes(data: Uint8Array): string {
  return `Buffer.from(${JSON.stringify(Buffer.from(data).toString('base64'))}, 'base64')`;
}
