// The standing sponsors' bookkeeping (src/fs/standing-sponsors.ts): who stands, until when, and
// when each is decided again: at its deadline, or in one pass a moment after generation bumps.
import test from 'ava';
import { StandingSponsors, SETTLE_MS } from '../../../src/fs/standing-sponsors.js';
import type { CallerContext } from '../../../src/native/index.js';

function fixture(max = 3) {
  const clock = { now: 0 };
  const timers: { run: () => void; at: number; cancelled: boolean }[] = [];
  const responsored: number[] = [];
  const standing = new StandingSponsors({
    clock: () => clock.now,
    responsor: (init) => responsored.push(init.pid),
    max,
    schedule: (run, ms) => {
      const timer = { run, at: clock.now + ms, cancelled: false };
      timers.push(timer);
      return () => void (timer.cancelled = true);
    },
  });
  /** Moves the clock to `at` and runs the timers due by then. */
  const advance = (at: number): void => {
    clock.now = at;
    for (const timer of timers.splice(0)) {
      if (timer.cancelled) continue;
      if (timer.at <= at) timer.run();
      else timers.push(timer);
    }
  };
  return { clock, standing, responsored, advance, armed: () => timers.filter((x) => !x.cancelled).length };
}

const init = (pid: number): CallerContext => ({ pid, uid: 0, gid: 0 });

test('each is decided again at its own deadline, once, and not before', (t) => {
  const f = fixture();
  t.true(f.standing.admit(init(1), 1_000));
  t.true(f.standing.admit(init(2), 5_000));
  f.advance(999);
  t.deepEqual(f.responsored, []);
  f.advance(1_000);
  t.deepEqual(f.responsored, [1]);
  f.advance(4_000);
  t.deepEqual(f.responsored, [1], 'one in flight is not decided again meanwhile');
  f.advance(5_000);
  t.deepEqual(f.responsored, [1, 2]);
  t.true(f.standing.admit(init(1), 9_000), 're-admitted by its new decision');
  f.advance(9_000);
  t.deepEqual(f.responsored, [1, 2, 1]);
});

test('bounded: beyond the bound a new one is refused, one standing already may move its deadline', (t) => {
  const f = fixture(2);
  t.true(f.standing.admit(init(1), 1_000));
  t.true(f.standing.admit(init(2), 1_000));
  t.false(f.standing.admit(init(3), 1_000));
  t.true(f.standing.admit(init(1), 2_000));
  t.is(f.standing.size, 2);
  f.standing.drop(init(2));
  t.true(f.standing.admit(init(3), 1_000), 'a dropped one makes room');
});

test('generation bumps: every one is decided again in one pass, SETTLE_MS after the first bump of a burst', (t) => {
  const f = fixture();
  f.standing.admit(init(1), 60_000);
  f.standing.admit(init(2), 60_000);
  for (let at = 0; at < SETTLE_MS; at += 10) {
    f.advance(at);
    f.standing.forgotten();
  }
  t.deepEqual(f.responsored, [], 'not at each bump');
  f.advance(SETTLE_MS);
  t.deepEqual(f.responsored.sort(), [1, 2], 'one pass for the burst');
  f.standing.forgotten();
  f.advance(2 * SETTLE_MS);
  t.deepEqual(f.responsored.sort(), [1, 1, 2, 2], 'a bump after the pass: another pass');
});

test('a dropped one is not decided again, and a bump with none standing arms nothing', (t) => {
  const f = fixture();
  f.standing.admit(init(1), 1_000);
  f.standing.drop(init(1));
  f.standing.forgotten();
  f.advance(10_000);
  t.deepEqual(f.responsored, []);
  t.is(f.armed(), 0);
});
