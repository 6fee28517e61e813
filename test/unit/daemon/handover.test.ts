// The handover pieces without a mount: the payload a pald leaves for the next one (hostile input)
// and systemd's LISTEN_FDS parsing. pald-holder itself: test/integration/handover-holder.test.ts.

import test from 'ava';

import { decodePayload, encodePayload, nextGeneration } from '../../../src/daemon/handover-payload.js';
import { forgetListenEnv, listenedFuseFd } from '../../../src/daemon/handover-systemd.js';

const init = Uint8Array.from({ length: 104 }, (_, i) => i);
const inodeKey = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);

test('payload: round trip', (t) => {
  const decoded = decodePayload(encodePayload({ generation: 7, inodeKey, init }));
  t.deepEqual(decoded, { generation: 7, inodeKey, init });
});

test('payload: anything malformed is a reason, never a crash', (t) => {
  const good = encodePayload({ generation: 7, inodeKey, init });
  const cases: Uint8Array[] = [
    new Uint8Array(0),
    good.subarray(0, 20),
    good.subarray(0, good.length - 1), // INIT shorter than announced
    Uint8Array.from([...good, 0]), // longer
    Uint8Array.from([2, ...good.subarray(1)]), // another version
    Uint8Array.from([1, 0, 0, ...good.subarray(3)]), // generation 0
    new Uint8Array(2048),
  ];
  for (const bytes of cases) t.is(typeof decodePayload(bytes), 'string');
  t.throws(() => encodePayload({ generation: 0, inodeKey, init }));
  t.throws(() => encodePayload({ generation: 1, inodeKey: new Uint8Array(5), init }));
});

test('generations cycle through 1..65535, never 0', (t) => {
  t.is(nextGeneration(1), 2);
  t.is(nextGeneration(0xffff), 1);
});

test('LISTEN_FDS: the pal-fuse descriptor, only when meant for this process', (t) => {
  const env = { LISTEN_PID: '42', LISTEN_FDS: '2', LISTEN_FDNAMES: 'other:pal-fuse' };
  t.is(listenedFuseFd(env, 42), 4);
  t.is(listenedFuseFd(env, 43), undefined);
  t.is(listenedFuseFd({ ...env, LISTEN_FDS: '1' }, 42), undefined);
  t.is(listenedFuseFd({ ...env, LISTEN_FDNAMES: 'stored' }, 42), undefined);
  t.is(listenedFuseFd({ ...env, LISTEN_FDS: 'x' }, 42), undefined);
  const e: NodeJS.ProcessEnv = { ...env };
  forgetListenEnv(e);
  t.deepEqual(e, {});
});
