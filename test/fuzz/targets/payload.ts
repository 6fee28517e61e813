// The sealed payload inside the OpenPGP encryption: integrity-protected, but whoever holds a host
// public key can seal anything. decodePayload returns a header or throws Error with a reason.
import fc from 'fast-check';
import { decodePayload, encodePayload } from '../../../src/crypto/payload.js';
import { labelProblem, secretNameProblem } from '../../../src/store/index.js';
import { hostileJsonValue, mutatedBytes, mutatedText, PROTOTYPE_KEYS, showBytes } from '../mutate.js';
import { timed, type FuzzTarget, type Scale, type Shape } from '../target.js';

const enc = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));

/** From test/unit/crypto/crypto.test.ts: real payloads, and headers that must be refused. */
const SEED_TEXTS = [
  '{"pal":1,"name":"db-password","labels":["a","b"]}\nhunter2',
  '{"pal":1,"name":"api.key","labels":["production-team-secret"]}\n',
  '{"pal":2,"name":"x","labels":["a"]}\nv',
  '{"pal":1,"name":"../x","labels":["a"]}\nv',
  '{"pal":1,"name":"x","labels":[".ops"]}\nv',
  '{"pal":1,"name":"x","labels":"a"}\nv',
  'no header line',
];
const SEEDS = [
  ...SEED_TEXTS.map(enc),
  encodePayload({ name: 'bin', labels: ['a'] }, new Uint8Array([0, 1, 2, 0x0a, 0xff])),
];

function shapes(scale: Scale): Array<Shape<Uint8Array>> {
  const deep = scale === 'full' ? 100_000 : 10_000;
  return [
    { name: `header "[" × ${deep}`, input: enc('['.repeat(deep) + '\n') },
    { name: 'no newline in the first 64 KiB', input: enc('{'.padEnd(70_000, ' ') + '\n') },
    ...PROTOTYPE_KEYS.flatMap((k) => [
      { name: `name ${k}`, input: enc(`{"pal":1,"name":"${k}","labels":["${k}"]}\nv`) },
      { name: `${k} key in the header`, input: enc(`{"${k}":{"pal":1},"pal":1,"name":"x","labels":["a"]}\nv`) },
    ]),
    { name: '__proto__ carrying pal/name/labels', input: enc('{"__proto__":{"pal":1,"name":"x","labels":["a"]}}\nv') },
    {
      name: '100 000 labels',
      input: enc(
        JSON.stringify({
          pal: 1,
          name: 'x',
          labels: Array.from({ length: scale === 'full' ? 100_000 : 10_000 }, (_, i) => `l${i}`),
        }) + '\n',
      ),
    },
    { name: 'invalid UTF-8 header', input: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d, 0x0a]) },
  ];
}

export const target: FuzzTarget<Uint8Array> = {
  name: 'payload',
  covers: 'decodePayload (src/crypto/payload.ts)',
  accepts: [],
  plainErrorsFromSrc: true,
  shapes,
  arbitrary: () =>
    fc.oneof(
      { weight: 3, arbitrary: mutatedBytes(SEEDS) },
      { weight: 3, arbitrary: mutatedText(SEED_TEXTS, { tokens: ['"pal"', '"name"', '"labels"'] }).map(enc) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(hostileJsonValue(), fc.uint8Array({ maxLength: 16 }))
          .map(([h, v]) => new Uint8Array(Buffer.concat([Buffer.from((JSON.stringify(h) ?? 'null') + '\n'), v]))),
      },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }) },
    ),
  check(data) {
    const h = timed(() => decodePayload(data));
    if (typeof h.name !== 'string' || secretNameProblem(h.name) !== undefined)
      return `invalid name accepted: ${JSON.stringify(h.name)}`;
    if (!Array.isArray(h.labels) || !h.labels.every((l) => typeof l === 'string' && labelProblem(l) === undefined))
      return 'invalid labels accepted';
    if (
      !Number.isInteger(h.valueOffset) ||
      h.valueOffset < 1 ||
      h.valueOffset > data.length ||
      data[h.valueOffset - 1] !== 0x0a
    )
      return `value offset ${h.valueOffset} is not just after the header line`;
    return undefined;
  },
  show: showBytes,
};
