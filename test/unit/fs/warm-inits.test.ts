import test from 'ava';
import { WarmInits } from '../../../src/fs/warm-inits.js';

const ctx = (pid: number) => ({ pid, uid: 0, gid: 0 });

test('inits are kept warm until their deadline, at most the bound at once', (t) => {
  const clock = { now: 0 };
  const inits = new WarmInits(() => clock.now, 2);
  t.true(inits.admit(ctx(1), 100));
  t.true(inits.admit(ctx(2), 50));
  t.false(inits.admit(ctx(3), 100), 'past the bound: decided ahead for one window only');
  t.true(inits.admit(ctx(1), 1_000), 'one already kept stays kept...');
  clock.now = 60;
  t.deepEqual(inits.live(), [{ ctx: ctx(1), remainingMs: 40 }], '...with its own deadline; 2 lapsed');
  t.true(inits.admit(ctx(3), 100), 'room again');
  inits.drop(ctx(1));
  clock.now = 100;
  t.deepEqual(inits.live(), [{ ctx: ctx(3), remainingMs: 60 }]);
  t.false(inits.admit(ctx(4), 0), 'no time left: nothing kept');
});
