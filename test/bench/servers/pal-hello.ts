// pal's addon with a trivial handler serving one 64-byte file, /file, with pal's settings
// (zero entry/attr timeouts, direct_io). MODE "js": read() answered by JS; "buffer": each open
// hands a clone of a secure buffer to the addon, which serves read() itself.
// usage: node pal-hello.js MOUNTPOINT js|buffer [THREADS]. Prints "ready"; SIGTERM unmounts.
import { constants } from 'node:fs';

import { Errno, FuseError, mount, secureBufferFrom, type FileAttr } from '../../../src/native/index.js';

const [mountpoint, mode, threads] = process.argv.slice(2);
if (!mountpoint || (mode !== 'js' && mode !== 'buffer')) {
  process.stderr.write('usage: pal-hello MOUNTPOINT js|buffer [THREADS]\n');
  process.exit(2);
}
const body = Buffer.from('0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n');
const secret = secureBufferFrom(Buffer.from(body));
const mtimeMs = Date.now();
const fileAttr: FileAttr = {
  ino: 2,
  mode: constants.S_IFREG | 0o444,
  nlink: 1,
  uid: 0,
  gid: 0,
  size: body.length,
  mtimeMs,
};
const rootAttr: FileAttr = { ino: 1, mode: constants.S_IFDIR | 0o555, nlink: 2, uid: 0, gid: 0, size: 0, mtimeMs };

const fuse = await mount(
  mountpoint,
  {
    lookup(_ctx, parent, name) {
      if (parent !== 1 || name !== 'file') throw new FuseError(Errno.ENOENT);
      return { attr: fileAttr, entryTimeout: 0, attrTimeout: 0 };
    },
    getattr(_ctx, ino) {
      if (ino === 1) return { attr: rootAttr, attrTimeout: 0 };
      if (ino === 2) return { attr: fileAttr, attrTimeout: 0 };
      throw new FuseError(Errno.ENOENT);
    },
    readdir: () => [{ name: 'file', attr: fileAttr }],
    open(_ctx, ino) {
      if (ino !== 2) throw new FuseError(Errno.EISDIR);
      return mode === 'buffer'
        ? { fh: 1, directIo: true, keepCache: false, content: secret.clone() }
        : { fh: 1, directIo: true, keepCache: false };
    },
    read: (_ctx, _ino, _fh, size, offset) => body.subarray(offset, offset + size),
    release() {},
  },
  { extraOptions: ['allow_other'], ...(threads ? { threads: Number(threads) } : {}) },
);
process.on('SIGTERM', () => void fuse.unmount().then(() => process.exit(0)));
process.stdout.write('ready\n');
