import test from 'ava';
import { parseMountInfo } from '../../../src/daemon/index.js';

const SAMPLE = [
  '36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue',
  '100 36 0:50 / /run/pal rw,relatime shared:7 - tmpfs tmpfs rw',
  '101 100 0:51 / /run/pal ro,nosuid,nodev,noexec,relatime shared:8 - fuse.pal pal ro,user_id=0,group_id=0,allow_other',
  '102 36 0:52 / /tmp/with\\040space rw - tmpfs tmpfs rw',
  'garbage line',
  '',
].join('\n');

test('mountinfo: fields, optional fields, escapes; malformed lines ignored', (t) => {
  const m = parseMountInfo(SAMPLE);
  t.is(m.length, 4);
  t.like(m[0], { mountId: 36, parentId: 35, mountPoint: '/mnt2', fsType: 'ext3', source: '/dev/root' });
  t.deepEqual(m[0]!.optionalFields, ['master:1']);
  const pal = m.filter((x) => x.mountPoint === '/run/pal');
  t.deepEqual(
    pal.map((x) => x.fsType),
    ['tmpfs', 'fuse.pal'],
  );
  t.deepEqual(pal[1]!.optionalFields, ['shared:8']);
  t.is(m[3]!.mountPoint, '/tmp/with space');
  t.deepEqual(m[3]!.optionalFields, []);
});
