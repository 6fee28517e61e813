import test from 'ava';

import { DEFAULT_PALD_FUSE_THREADS, paldFuseThreads } from '../../../src/daemon/index.js';

test('pald reads /dev/fuse with worker threads unless PAL_FUSE_THREADS says otherwise', (t) => {
  t.true(DEFAULT_PALD_FUSE_THREADS > 0);
  t.is(paldFuseThreads({}), DEFAULT_PALD_FUSE_THREADS);
  t.is(paldFuseThreads({ PAL_FUSE_THREADS: '' }), DEFAULT_PALD_FUSE_THREADS);
  t.is(paldFuseThreads({ PAL_FUSE_THREADS: '0' }), 0);
  t.is(paldFuseThreads({ PAL_FUSE_THREADS: ' 4 ' }), 4);
  t.is(paldFuseThreads({ PAL_FUSE_THREADS: '64' }), 64);
});

test('a PAL_FUSE_THREADS that is not 0..64 stops pald instead of being guessed at', (t) => {
  for (const bad of ['65', '-1', '2.5', 'two', '0x2', '1e1', '999'])
    t.throws(() => paldFuseThreads({ PAL_FUSE_THREADS: bad }), { instanceOf: RangeError }, bad);
});
