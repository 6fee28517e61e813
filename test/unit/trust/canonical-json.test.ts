import test from 'ava';
import { canonicalJson, CanonicalJsonError } from '../../../src/trust/notary/canonical-json.js';

test('no whitespace, keys sorted, nested values kept in order', (t) => {
  t.is(canonicalJson({ b: 1, a: [true, null, { d: 'x', c: -2 }] }), '{"a":[true,null,{"c":-2,"d":"x"}],"b":1}');
});

test('keys sort by UTF-8 bytes, not UTF-16 code units', (t) => {
  // U+FF61 is EF BD A1 in UTF-8 but FF61 in UTF-16; U+1F600 is F0 9F 98 80 but D83D DE00.
  // JavaScript's default sort puts the emoji first; the signed form puts it last.
  const obj = { '\u{1F600}': 1, '\uFF61': 2, Z: 3, a: 4 };
  t.is(canonicalJson(obj), '{"Z":3,"a":4,"\uFF61":2,"\u{1F600}":1}');
  t.deepEqual(Object.keys(obj).sort(), ['Z', 'a', '\u{1F600}', '\uFF61']);
});

test('strings escape only quote and backslash; unicode, control chars and <>& go out raw', (t) => {
  t.is(canonicalJson('a"b\\c'), '"a\\"b\\\\c"');
  t.is(canonicalJson('<é>&\n\t\u0001'), '"<é>&\n\t\u0001"');
  t.is(Buffer.from(canonicalJson('é')).toString('hex'), '22c3a922');
});

test('only exact integers are numbers', (t) => {
  t.is(canonicalJson({ v: 0, w: -7, x: 9007199254740991 }), '{"v":0,"w":-7,"x":9007199254740991}');
  t.throws(() => canonicalJson(1.5), { instanceOf: CanonicalJsonError });
  t.throws(() => canonicalJson(1e300), { instanceOf: CanonicalJsonError });
  t.throws(() => canonicalJson(JSON.parse('123456789012345678901234567890')), { instanceOf: CanonicalJsonError });
  t.throws(() => canonicalJson(Number.NaN), { instanceOf: CanonicalJsonError });
});

test('hostile shapes are errors, not crashes', (t) => {
  let deep: unknown = 1;
  for (let i = 0; i < 100; i++) deep = [deep];
  t.throws(() => canonicalJson(deep), { instanceOf: CanonicalJsonError, message: /too deeply/ });
  t.throws(() => canonicalJson({ f: () => 1 }), { instanceOf: CanonicalJsonError });
  t.is(canonicalJson(JSON.parse('{"__proto__":{"x":1}}')), '{"__proto__":{"x":1}}');
});
