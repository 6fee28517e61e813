// One line of Docker's /events stream: the endpoint is not trusted (an impostor or compromised
// dockerd). parseEvent returns an event or undefined; it never throws.
import fc from 'fast-check';
import { parseEvent } from '../../../src/identity/docker-runtime.js';
import { hostileJsonValue, hostileText, PROTOTYPE_KEYS, showText } from '../mutate.js';
import { timed, type FuzzTarget, type Scale, type Shape } from '../target.js';

const ID = 'fa2546a38baf39bb5fc4bcdc6ace0ea1062c7f056ca5e4eed7db2084ae66be9c';
const IMAGE = `sha256:${'c'.repeat(64)}`;
const ev = (type: string, action: string, id: string): string =>
  JSON.stringify({
    Type: type,
    Action: action,
    Actor: { ID: id, Attributes: { name: 'x', image: 'busybox' } },
    scope: 'local',
    time: 1,
    timeNano: 1000,
  });

/** From test/unit/identity/docker-runtime.test.ts. */
const SEEDS = [
  ev('container', 'die', ID),
  ev('container', 'destroy', ID),
  ev('container', 'rename', ID),
  ev('image', 'delete', IMAGE),
  ev('image', 'untag', 'c'.repeat(64)),
  ev('image', 'tag', IMAGE),
  ev('container', 'start', ID),
  ev('network', 'destroy', ID),
  '{"Type":"container","Action":"die","Actor":{"ID":5}}',
  '',
];

function shapes(scale: Scale): Array<Shape<string>> {
  const deep = scale === 'full' ? 100_000 : 10_000;
  return [
    { name: `"[" × ${deep}`, input: '['.repeat(deep) },
    { name: `Actor nested × ${deep}`, input: '{"Actor":'.repeat(deep) + '{}' + '}'.repeat(deep) },
    ...PROTOTYPE_KEYS.map((k) => ({
      name: `${k} as Actor`,
      input: `{"Type":"container","Action":"die","${k}":{"ID":"${ID}"},"Actor":{"${k}":1,"ID":"${ID}"}}`,
    })),
    {
      name: 'Actor.ID of 1 MiB',
      input: JSON.stringify({ Type: 'container', Action: 'die', Actor: { ID: 'a'.repeat(1 << 20) } }),
    },
  ];
}

export const target: FuzzTarget<string> = {
  name: 'docker-event',
  covers: 'parseEvent (src/identity/docker-runtime.ts)',
  accepts: [],
  shapes,
  arbitrary: () =>
    fc.oneof(
      {
        weight: 3,
        arbitrary: hostileText(SEEDS, {
          tokens: ['"Type"', '"Action"', '"Actor"', '"ID"', ID, IMAGE, '"container"', '"image"', '"die"', '"untag"'],
        }),
      },
      {
        weight: 1,
        arbitrary: fc
          .record({
            Type: fc.constantFrom('container', 'image', 'x'),
            Action: fc.constantFrom('die', 'destroy', 'rename', 'delete', 'untag', 'tag', 'start'),
            Actor: fc.oneof(
              hostileJsonValue(2),
              fc.record({ ID: fc.oneof(fc.constantFrom(ID, IMAGE, 'c'.repeat(64)), hostileJsonValue(1)) }),
            ),
          })
          .map((v) => JSON.stringify(v)),
      },
    ),
  check(line) {
    const e = timed(() => parseEvent(line));
    if (e === undefined) return undefined;
    if (e.type === 'container')
      return /^[0-9a-f]{64}$/.test(e.id) && ['start', 'die', 'destroy', 'rename'].includes(e.action)
        ? undefined
        : `bad container event ${JSON.stringify(e)}`;
    if (e.type === 'image')
      return /^sha256:[0-9a-f]{64}$/.test(e.id) && ['delete', 'untag', 'tag'].includes(e.action)
        ? undefined
        : `bad image event ${JSON.stringify(e)}`;
    return `unexpected event ${JSON.stringify(e).slice(0, 100)}`;
  },
  show: showText,
};
