import test from 'ava';

import { Errno, FuseError, errnoOf, explicitErrno, mountOptionString } from '../../../src/native/index.js';

test('errnoOf: FuseError, Node system errors, codes, anything else EIO', (t) => {
  t.is(errnoOf(new FuseError(Errno.EACCES)), 13);
  t.is(errnoOf(Object.assign(new Error('x'), { errno: -2, code: 'ENOENT' })), 2);
  t.is(errnoOf({ code: 'ENOTDIR' }), Errno.ENOTDIR);
  t.is(errnoOf(new Error('plain')), Errno.EIO);
  t.is(errnoOf('string'), Errno.EIO);
  t.is(errnoOf({ errno: 0 }), Errno.EIO);
  t.is(errnoOf({ errno: 1e9 }), Errno.EIO);
  t.is(new FuseError(Errno.ENOENT).message, 'FUSE error ENOENT');
});

test('mount options always carry ro,nosuid,nodev,noexec and never default_permissions', (t) => {
  t.is(mountOptionString(), 'ro,nosuid,nodev,noexec,fsname=pal,subtype=pal');
  t.is(
    mountOptionString({ fsname: 'pal-test', extraOptions: ['allow_other'] }),
    'ro,nosuid,nodev,noexec,fsname=pal-test,subtype=pal,allow_other',
  );
  t.throws(() => mountOptionString({ extraOptions: ['rw,suid'] }), { instanceOf: TypeError });
  t.throws(() => mountOptionString({ fsname: 'a b' }), { instanceOf: TypeError });
});

test('explicitErrno: only errnos an error names itself', (t) => {
  t.is(explicitErrno(new FuseError(Errno.EIO)), Errno.EIO);
  t.is(explicitErrno({ code: 'EACCES' }), Errno.EACCES);
  t.is(explicitErrno(new Error('plain')), undefined);
  t.is(explicitErrno({ code: 'toString' }), undefined, 'no prototype keys taken for errno names');
  t.is(explicitErrno(null), undefined);
});
