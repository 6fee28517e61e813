// Inode layout of the pal filesystem. Inode numbers are stable for the life of the daemon:
// a secret name gets its number the first time it is seen and keeps it, even if it leaves the
// manifest and comes back, so a kernel that still holds an old inode never sees it reused for
// a different secret.

export const ROOT_INO = 1;
export const PAL_DIR_INO = 2;
export const PAL_DIR_NAME = '.pal';

/** The per-caller inspection files under /run/pal/.pal/, in inode order. */
export const PAL_FILES = ['whoami.json', 'secrets.json', 'version', 'status'] as const;
export type PalFileName = (typeof PAL_FILES)[number];

const FIRST_PAL_FILE_INO = 3;
const FIRST_SECRET_INO = 16;

export function palFileIno(name: PalFileName): number {
  return FIRST_PAL_FILE_INO + PAL_FILES.indexOf(name);
}

export function palFileName(ino: number): PalFileName | undefined {
  const index = ino - FIRST_PAL_FILE_INO;
  return index >= 0 && index < PAL_FILES.length ? PAL_FILES[index] : undefined;
}

export function isPalFileName(name: string): name is PalFileName {
  return (PAL_FILES as readonly string[]).includes(name);
}

export class SecretInodes {
  private readonly byName = new Map<string, number>();
  private readonly byIno = new Map<number, string>();
  private next = FIRST_SECRET_INO;

  /** The inode of a secret name, allocated on first sight and never reused. */
  inoFor(name: string): number {
    let ino = this.byName.get(name);
    if (ino === undefined) {
      ino = this.next++;
      this.byName.set(name, ino);
      this.byIno.set(ino, name);
    }
    return ino;
  }

  /** The inode already given to a name, without allocating one. */
  peek(name: string): number | undefined {
    return this.byName.get(name);
  }

  nameOf(ino: number): string | undefined {
    return this.byIno.get(ino);
  }
}
