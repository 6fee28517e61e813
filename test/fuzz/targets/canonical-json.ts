// Canonical JSON of parsed (hostile) TUF metadata: the bytes signatures are checked over.
// canonicalJson returns text that parses back to the same value, or throws CanonicalJsonError.
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { CanonicalJsonError, canonicalJson } from '../../../src/trust/notary/canonical-json.js';
import { hostileText, PROTOTYPE_KEYS, showText } from '../mutate.js';
import { timed, type FuzzTarget, type Scale, type Shape } from '../target.js';

/** Shaped like the documents test/helpers/notary-craft.ts signs. */
const SEEDS = [
  '{"_type":"Root","consistent_snapshot":false,"expires":"2099-01-01T00:00:00Z","keys":{"ab":{"keytype":"ed25519","keyval":{"private":null,"public":"AAAA"}}},"roles":{"root":{"keyids":["ab"],"threshold":1}},"version":1}',
  '{"_type":"Targets","delegations":{"keys":{},"roles":[]},"expires":"2099-01-01T00:00:00Z","targets":{"1.0":{"custom":{"pal":{"labels":["billing"]}},"hashes":{"sha256":"AAAA"},"length":1}},"version":2}',
  '{"a":"\\u0000\\"\\\\\\u2028é😀","b":[1,-1,0,9007199254740991],"c":{"":{}}}',
  '{"x":1.5}',
  '{"x":1e400}',
  '[-0]',
  '"\\ud800"',
];

function shapes(scale: Scale): Array<Shape<string>> {
  const deep = scale === 'full' ? 100_000 : 10_000;
  return [
    { name: `"[" × 65`, input: '['.repeat(65) + ']'.repeat(65) },
    { name: `"[" × ${deep} closed`, input: '['.repeat(deep) + ']'.repeat(deep) },
    { name: `{"a": × ${deep}`, input: '{"a":'.repeat(deep) + '1' + '}'.repeat(deep) },
    ...PROTOTYPE_KEYS.map((k) => ({
      name: `key ${k} at two levels`,
      input: `{"${k}":{"${k}":1,"a":[{"${k}":null}]},"b":"${k}"}`,
    })),
    // About 730 KB: a root or timestamp file may be up to 1 MiB, and is put in canonical form before its signatures are checked.
    {
      name: `${scale === 'full' ? 50_000 : 5_000} keys`,
      input: JSON.stringify(
        Object.fromEntries(Array.from({ length: scale === 'full' ? 50_000 : 5_000 }, (_, i) => [`k${i}`, i])),
      ),
    },
    { name: 'lone surrogates in keys', input: '{"\\ud800":1,"\\udc00":2,"\\ud800\\udc00":3}' },
  ];
}

export const target: FuzzTarget<string> = {
  name: 'canonical-json',
  covers: 'canonicalJson over JSON.parse output (src/trust/notary/canonical-json.ts)',
  accepts: [CanonicalJsonError],
  shapes,
  arbitrary: () =>
    fc.oneof(
      {
        weight: 3,
        arbitrary: hostileText(SEEDS, { tokens: ['"_type"', '"keys"', '"signed"', '1.0', '1e21', '-0', '"\\ud800"'] }),
      },
      { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 8 }).map((v) => JSON.stringify(v)) },
      {
        weight: 1,
        arbitrary: fc
          .dictionary(
            fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS), fc.string({ unit: 'binary', maxLength: 6 })),
            fc.jsonValue({ maxDepth: 3 }),
          )
          .map((v) => JSON.stringify(v)),
      },
    ),
  check(text) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return undefined; // not JSON: never reaches canonicalJson (the metadata parser refuses it first)
    }
    const out = timed(() => canonicalJson(value));
    let back: unknown;
    try {
      // Canonical JSON writes control characters raw (only `"` and `\\` are escaped); JSON.parse wants them escaped.
      back = JSON.parse(out.replace(/[\u0000-\u001f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
    } catch (e) {
      return `canonical text does not parse back: ${(e as Error).message}`;
    }
    // -0 is written as 0, as Go's encoder writes the integer it parsed.
    if (
      !isDeepStrictEqual(
        back,
        JSON.parse(text, (_k, v: unknown) => (Object.is(v, -0) ? 0 : v)),
      )
    )
      return 'canonical text parses back to a different value';
    if (/[ \n]/.test(out.replace(/"(?:[^"\\]|\\.)*"/g, '""'))) return 'whitespace outside strings';
    return undefined;
  },
  show: showText,
};
