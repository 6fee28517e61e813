// Requests on the admin socket: root-only, but still parsed as hostile (a confused client, a
// compromised tool). parseAdminRequest returns a request or { error }; it never throws.
import fc from 'fast-check';
import { MAX_REQUEST_BYTES, parseAdminRequest } from '../../../src/daemon/admin-protocol.js';
import { hostileJsonValue, hostileText, PROTOTYPE_KEYS, showText } from '../mutate.js';
import { timed, type FuzzTarget, type Scale, type Shape } from '../target.js';

/** From test/unit/daemon/admin.test.ts and the protocol comment. */
const SEEDS = [
  '{"op":"status"}',
  '{"op":"containers"}',
  '{"op":"secrets"}',
  '{"op":"audit","n":50,"follow":false}',
  '{"op":"audit","follow":true}',
  '{"op":"explain","container":"c","secret":"s"}',
  '{"op":"audit","n":100001}',
  '{"op":"explain","container":"","secret":"s"}',
  '{}',
  '[]',
  'null',
];

function shapes(_scale: Scale): Array<Shape<string>> {
  // 100,000 at both scales: the stack depth at which JSON.stringify gives up varies near 10,000.
  const deep = 100_000;
  return [
    { name: `"[" × ${deep}`, input: '['.repeat(deep) },
    { name: `{"op": nested × ${deep}`, input: '{"op":'.repeat(deep) + '1' + '}'.repeat(deep) },
    // Within the server's 64 KiB line limit.
    { name: '{"op": [[[…]]]} of 64 KiB', input: `{"op":${'['.repeat(32_000)}${']'.repeat(32_000)}}` },
    ...PROTOTYPE_KEYS.flatMap((k) => [
      { name: `op ${k}`, input: JSON.stringify({ op: k }) },
      { name: `${k} key`, input: `{"${k}":{"op":"status"},"op":"explain","container":"c","secret":"s"}` },
    ]),
    { name: 'n as a huge number', input: '{"op":"audit","n":1e999}' },
    {
      name: 'explain with a 64 KiB container',
      input: JSON.stringify({ op: 'explain', container: 'c'.repeat(MAX_REQUEST_BYTES), secret: 's' }),
    },
  ];
}

export const target: FuzzTarget<string> = {
  name: 'admin',
  covers: 'parseAdminRequest (src/daemon/admin-protocol.ts)',
  accepts: [],
  shapes,
  arbitrary: () =>
    fc.oneof(
      {
        weight: 3,
        arbitrary: hostileText(SEEDS, {
          tokens: ['"op"', '"n"', '"follow"', '"container"', '"secret"', '"audit"', '"explain"'],
        }),
      },
      { weight: 1, arbitrary: hostileJsonValue().map((v) => JSON.stringify(v) ?? 'null') },
      {
        weight: 1,
        arbitrary: fc
          .record(
            {
              op: fc.constantFrom('status', 'containers', 'secrets', 'audit', 'explain', ...PROTOTYPE_KEYS),
              n: hostileJsonValue(2),
              follow: hostileJsonValue(2),
              container: hostileJsonValue(2),
              secret: hostileJsonValue(2),
            },
            { requiredKeys: ['op'] },
          )
          .map((v) => JSON.stringify(v)),
      },
    ),
  check(line) {
    const r = timed(() => parseAdminRequest(line));
    if ('error' in r) return typeof r.error === 'string' && r.error.length > 0 ? undefined : 'error without a reason';
    switch (r.op) {
      case 'status':
      case 'containers':
      case 'secrets':
        return Object.keys(r).length === 1 ? undefined : `extra fields in ${r.op}`;
      case 'audit':
        return Number.isInteger(r.n) && r.n! >= 0 && r.n! <= 100_000 && typeof r.follow === 'boolean'
          ? undefined
          : `bad audit request ${JSON.stringify(r)}`;
      case 'explain':
        return typeof r.container === 'string' && r.container !== '' && typeof r.secret === 'string' && r.secret !== ''
          ? undefined
          : 'bad explain request';
      default:
        return `unknown op accepted: ${JSON.stringify((r as { op: unknown }).op)}`;
    }
  },
  show: showText,
};
