import type { FileAttr } from '../native/types.js';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;

export const ENTRY_TIMEOUT_S = 0; // no kernel caching: each caller's view must be asked for fresh
export const ATTR_TIMEOUT_S = 0;

export function dirAttr(ino: number, uid: number, gid: number, mtimeMs: number, nlink = 2): FileAttr {
  return { ino, mode: S_IFDIR | 0o555, nlink, uid, gid, size: 0, mtimeMs };
}

export function fileAttr(ino: number, mode: number, uid: number, gid: number, size: number, mtimeMs: number): FileAttr {
  return { ino, mode: S_IFREG | (mode & 0o777), nlink: 1, uid, gid, size, mtimeMs };
}
