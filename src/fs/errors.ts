import { constants } from 'node:os';

/** An error the FUSE layer turns into this errno (the addon reads the numeric `errno`). */
export class FsError extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
    this.name = 'FsError';
  }
}

const E = constants.errno;
export const ENOENT = E.ENOENT;
export const EACCES = E.EACCES;
export const EIO = E.EIO;
export const EROFS = E.EROFS;
export const ENOTDIR = E.ENOTDIR;
export const EISDIR = E.EISDIR;
export const EBADF = E.EBADF;
