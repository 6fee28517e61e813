// Red October ciphertext files (`ro:` entries), parsed *before* decryption to authorise the caller:
// whoever can write the manifest directory chooses these bytes. parseEnvelope returns the sealed
// name, labels, owners and minimum, or throws Error with a reason.
import fc from 'fast-check';
import { parseEnvelope, sealLabels } from '../../../src/crypto/redoctober/envelope.js';
import { labelProblem, secretNameProblem } from '../../../src/store/index.js';
import { hostileJsonValue, mutatedBytes, mutatedText, PROTOTYPE_KEYS, showBytes } from '../mutate.js';
import { timed, type FuzzTarget, type Scale, type Shape } from '../target.js';

const b64 = (v: string): string => Buffer.from(v, 'utf8').toString('base64');
const enc = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

function innerJson(over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    Version: 1,
    VaultId: 7,
    Labels: sealLabels('pay', ['billing']),
    KeySet: [
      { Name: ['alice', 'bob'], Key: b64('k') },
      { Name: ['alice', 'carol'], Key: b64('k') },
    ],
    KeySetRSA: { alice: { Key: b64('a') }, bob: { Key: b64('b') }, carol: { Key: b64('c') } },
    IV: b64('iv'),
    Data: b64('data'),
    ...over,
  });
}
/** The file text for an inner JSON text (locked form, as the server writes it). */
const file = (inner: string): string => b64(JSON.stringify({ Version: -1, Data: b64(inner), Signature: b64('s') }));

const INNER_TEXTS = [innerJson(), innerJson({ Labels: ['billing'] }), innerJson({ Predicate: 'a & b' })];
const SEED_TEXTS = INNER_TEXTS.map(file);

function shapes(scale: Scale): Array<Shape<Uint8Array>> {
  const n = scale === 'full' ? 100_000 : 10_000;
  return [
    { name: `inner "[" × ${n}`, input: enc(file('['.repeat(n))) },
    { name: `${n} labels`, input: enc(file(innerJson({ Labels: Array.from({ length: n }, (_, i) => `l${i}`) }))) },
    {
      name: `${n} KeySet entries`,
      input: enc(file(innerJson({ KeySet: Array.from({ length: n }, () => ({ Name: ['alice', 'bob'] })) }))),
    },
    ...PROTOTYPE_KEYS.flatMap((k) => [
      { name: `owner ${k}`, input: enc(file(innerJson({ KeySetRSA: { [k]: {}, bob: {} } }))) },
      { name: `name ${k}`, input: enc(file(innerJson({ Labels: sealLabels(k, ['a']) }))) },
    ]),
    { name: '__proto__ inner', input: enc(file('{"__proto__":{"Version":1}}')) },
  ];
}

export const target: FuzzTarget<Uint8Array> = {
  name: 'redoctober',
  covers: 'parseEnvelope (src/crypto/redoctober/envelope.ts)',
  accepts: [],
  plainErrorsFromSrc: true,
  shapes,
  arbitrary: () =>
    fc.oneof(
      { weight: 2, arbitrary: mutatedBytes(SEED_TEXTS.map(enc)) },
      {
        weight: 3,
        arbitrary: mutatedText(INNER_TEXTS, { tokens: ['"Labels"', '"KeySet"', '"KeySetRSA"', '"pal:name='] }).map(
          (t) => enc(file(t)),
        ),
      },
      { weight: 1, arbitrary: hostileJsonValue().map((v) => enc(file(JSON.stringify(v) ?? 'null'))) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }) },
    ),
  check(data) {
    const env = timed(() => parseEnvelope(data));
    if (secretNameProblem(env.sealedName) !== undefined)
      return `invalid name accepted: ${JSON.stringify(env.sealedName)}`;
    if (env.sealedLabels.length === 0 || !env.sealedLabels.every((l) => labelProblem(l) === undefined))
      return 'invalid labels accepted';
    if (env.owners.length === 0 || !env.owners.every((o) => typeof o === 'string' && o.length > 0))
      return 'invalid owners accepted';
    if (env.minimum !== 1 && env.minimum !== 2) return `minimum ${env.minimum} accepted`;
    return undefined;
  },
  show: showBytes,
};
