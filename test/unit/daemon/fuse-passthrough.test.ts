import test from 'ava';
import { paldFusePassthrough } from '../../../src/daemon/fuse-passthrough.js';

test('pald asks for FUSE passthrough unless PAL_FUSE_PASSTHROUGH=0', (t) => {
  t.true(paldFusePassthrough({}));
  t.true(paldFusePassthrough({ PAL_FUSE_PASSTHROUGH: '' }));
  t.true(paldFusePassthrough({ PAL_FUSE_PASSTHROUGH: ' 1 ' }));
  t.false(paldFusePassthrough({ PAL_FUSE_PASSTHROUGH: '0' }));
});

test('a PAL_FUSE_PASSTHROUGH that is not 0 or 1 is refused with the value', (t) => {
  for (const raw of ['yes', 'off', '2', 'true'])
    t.throws(() => paldFusePassthrough({ PAL_FUSE_PASSTHROUGH: raw }), { message: new RegExp(`not "${raw}"`) });
});
