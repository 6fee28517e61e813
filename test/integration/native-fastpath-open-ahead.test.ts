// A new process's first open() of a secret decrypted already is answered in C (view-state.ts
// openAhead): its LOOKUP goes to JS, which attests the new caller and, the plaintext being cached,
// decides the open that follows and leases it to the addon; the OPEN never reaches JS. Real
// processes through a real FUSE mount, with the addon's worker threads and without. (Identity is
// pal's own interface, faked as in native-fastpath.test.ts: the test decides which container a pid
// is in.)
import test from 'ava';

import { waitFor } from '../helpers/wait.js';
import { IMAGE_PLAIN } from '../unit/fs/fakes.js';
import { mountView, readOnce, type MountedView } from './open-ahead-fixture.js';

for (const threads of [0, 2]) {
  test(`a new process's first open of a secret decrypted already is answered in C and audited as JS would (threads ${threads})`, async (t) => {
    const v = await mountView(threads);
    try {
      const first = await readOnce(v, 'db-password');
      t.is(first.got, 'hunter2-secret');
      const before = v.fuse.fastPath.stats();
      t.is(before.toJs.open, 1, 'the first open decrypts, through JS');

      const next = await readOnce(v, 'db-password');
      t.is(next.got, 'hunter2-secret');
      const after = v.fuse.fastPath.stats();
      t.is(after.toJs.open, before.toJs.open, `its OPEN never reached JS: ${JSON.stringify(after)}`);
      t.true(after.toJs.lookup > before.toJs.lookup, 'its LOOKUP did: a new caller is attested by JS');
      t.is(after.openHits, before.openHits + 1);

      // A secret nobody decrypted yet: the lookup leases nothing, the open asks JS, which decrypts.
      t.false(v.decrypted.has('api-token'));
      const token = await readOnce(v, 'api-token');
      t.is(token.got, 'tok-0123456789');
      t.is(v.fuse.fastPath.stats().toJs.open, after.toJs.open + 1);

      // A process of a container without the labels: refused (the lookup), and no lease for it.
      const other = await readOnce(v, 'db-password', { image: IMAGE_PLAIN, name: 'other' });
      t.is(other.got, 'ENOENT');
      t.is(v.fuse.fastPath.stats().openHits, after.openHits);

      // The leased open has JS's own audit line: same caller fields, decision and reason.
      await waitForLine(v, next.pid);
      const lines = v.h.audit.filter((e) => e.op === 'open' && e.secret === 'db-password' && e.decision === 'allow');
      const firstLine = lines.find((e) => e.pid === first.pid)!;
      const nextLine = lines.find((e) => e.pid === next.pid)!;
      const { time: _t1, latency_us: _l1, pid: _p1, ...firstRest } = firstLine;
      const { time: _t2, latency_us: _l2, pid: _p2, ...nextRest } = nextLine;
      t.deepEqual(nextRest, firstRest);
    } finally {
      await v.close();
    }
  });
}

/** The addon reports opens in batches, a few ms after the fact. */
async function waitForLine(v: MountedView, pid: number): Promise<void> {
  await waitFor('the leased open to be audited', () => v.h.audit.some((e) => e.pid === pid && e.op === 'open'), {
    intervalMs: 5,
  });
}
