// A target that misbehaves on purpose, once in each way the harness must catch: the unit test of
// the harness (test/unit/fuzz/harness.test.ts) checks that every one is reported.
import fc from 'fast-check';
import type { FuzzTarget, Shape } from '../target.js';

class OurError extends Error {}

const BEHAVIOURS = [
  'ok',
  'reason',
  'type-error',
  'non-error',
  'no-message',
  'invalid',
  'never-settles',
  'unhandled-rejection',
  'uncaught-exception',
  'slow',
  'hang',
  'abort',
] as const;
type Behaviour = (typeof BEHAVIOURS)[number];

function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // burn
  }
}

export const target: FuzzTarget<Behaviour> = {
  name: 'selftest',
  covers: 'the harness itself',
  accepts: [OurError],
  settleMs: 300,
  shapes: () => BEHAVIOURS.map((b): Shape<Behaviour> => ({ name: b, input: b })),
  arbitrary: () => fc.constantFrom<Behaviour>('ok', 'reason'),
  check(b) {
    switch (b) {
      case 'ok':
        return undefined;
      case 'reason':
        throw new OurError('a proper reason');
      case 'type-error':
        return (undefined as unknown as { x: string }).x;
      case 'non-error':
        throw 'a string'; // eslint-disable-line @typescript-eslint/only-throw-error -- a non-Error throw, on purpose
      case 'no-message':
        throw new OurError('');
      case 'invalid':
        return 'the value is wrong';
      case 'never-settles':
        return new Promise<undefined>(() => {});
      case 'unhandled-rejection':
        void Promise.reject(new Error('nobody handles this'));
        return Promise.resolve(undefined);
      case 'uncaught-exception':
        setImmediate(() => {
          throw new Error('thrown in a callback');
        });
        return new Promise((resolve) => setTimeout(() => resolve(undefined), 20));
      case 'slow':
        busy(150);
        return undefined;
      case 'hang':
        for (;;) busy(1000);
      case 'abort':
        process.abort();
    }
  },
  show: (b) => JSON.stringify(b),
};
