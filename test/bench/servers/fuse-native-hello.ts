// The filesystem a JavaScript developer would otherwise write: fuse-native (libfuse 2, high-level
// API) serving one 64-byte file, /file. usage: node fuse-native-hello.js MOUNTPOINT.
// Prints "ready"; SIGTERM unmounts.
import { createRequire } from 'node:module';

interface FuseNative {
  new (
    mnt: string,
    ops: object,
    opts: object,
  ): { mount(cb: (err?: Error) => void): void; unmount(cb: (err?: Error) => void): void };
  ENOENT: number;
}

const Fuse = createRequire(import.meta.url)('fuse-native') as FuseNative;
const mountpoint = process.argv[2];
if (!mountpoint) {
  process.stderr.write('usage: fuse-native-hello MOUNTPOINT\n');
  process.exit(2);
}
const body = Buffer.from('0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n');
const now = new Date();
const stat = (mode: number, size: number): object => ({
  mtime: now,
  atime: now,
  ctime: now,
  nlink: 1,
  size,
  mode,
  uid: 0,
  gid: 0,
});

const ops = {
  readdir: (path: string, cb: (err: number, names?: string[]) => void) => cb(0, path === '/' ? ['file'] : []),
  getattr: (path: string, cb: (err: number, st?: object) => void) => {
    if (path === '/') return cb(0, stat(0o40555, 0));
    if (path === '/file') return cb(0, stat(0o100444, body.length));
    return cb(Fuse.ENOENT);
  },
  open: (_path: string, _flags: number, cb: (err: number, fd?: number) => void) => cb(0, 42),
  release: (_path: string, _fd: number, cb: (err: number) => void) => cb(0),
  read: (_path: string, _fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) => {
    const n = Math.max(0, Math.min(len, body.length - pos));
    body.copy(buf, 0, pos, pos + n);
    cb(n);
  },
};
// pal's settings: zero entry/attr timeouts (fuse-native drops a numeric 0, so strings) and
// direct_io, for which fuse-native has no option: its -o list is comma-joined, so it rides on
// fsname.
const fuse = new Fuse(mountpoint, ops, {
  force: true,
  allowOther: true,
  fsname: 'fuse-native,direct_io',
  entryTimeout: '0',
  attrTimeout: '0',
});
fuse.mount((err) => {
  if (err) {
    process.stderr.write(`fuse-native mount failed: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write('ready\n');
});
process.on('SIGTERM', () => fuse.unmount(() => process.exit(0)));
