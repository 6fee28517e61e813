// Inode layout of the pal filesystem. A secret's inode number is derived from its name with a
// keyed hash (a random key per pald run), so the numbers a caller sees say nothing about how many
// other secrets exist or in which order they were seen (sequential numbers would). Numbers are
// stable for the life of the daemon: a name keeps its number even if it leaves the manifest and
// comes back, and a number is never given to two names (collisions are checked and re-derived).

import { createHmac, randomBytes } from 'node:crypto';

export const ROOT_INO = 1;
export const PAL_DIR_INO = 2;
export const PAL_DIR_NAME = '.pal';

/** The per-caller inspection files under /run/pal/.pal/, in inode order. */
export const PAL_FILES = ['whoami.json', 'secrets.json', 'version', 'status'] as const;
export type PalFileName = (typeof PAL_FILES)[number];

const FIRST_PAL_FILE_INO = 3;
/** Numbers below this are reserved for the root, .pal and its files. */
const FIRST_SECRET_INO = 16;
/** 48-bit numbers: far beyond any manifest (collisions are rare), and safe integers for the addon. */
const INO_BITS = 48;
const MAX_DERIVATIONS = 64;

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

/** Derives the inode candidate number `attempt` for a name (attempt 0 first, then 1, … on collision). */
export type InoDerivation = (name: string, attempt: number) => number;

/** HMAC-SHA256 under `key`, truncated to INO_BITS. */
export function keyedInoDerivation(key: Uint8Array): InoDerivation {
  return (name, attempt) =>
    createHmac('sha256', key)
      .update(`${attempt}\0${name}`)
      .digest()
      .readUIntBE(0, INO_BITS / 8);
}

export class SecretInodes {
  private readonly byName = new Map<string, number>();
  private readonly byIno = new Map<number, string>();
  private readonly derive: InoDerivation;

  /** By default a fresh random key: numbers differ from one pald run to the next. */
  constructor(derive: InoDerivation = keyedInoDerivation(randomBytes(32))) {
    this.derive = derive;
  }

  /** The inode of a secret name, derived on first sight and never reused for another name. */
  inoFor(name: string): number {
    const known = this.byName.get(name);
    if (known !== undefined) return known;
    for (let attempt = 0; attempt < MAX_DERIVATIONS; attempt++) {
      const ino = this.derive(name, attempt);
      if (!Number.isSafeInteger(ino) || ino < FIRST_SECRET_INO || this.byIno.has(ino)) continue;
      this.byName.set(name, ino);
      this.byIno.set(ino, name);
      return ino;
    }
    // 64 collisions in a 2^48 space do not happen with a keyed hash; a broken derivation might.
    throw new Error(`no free inode number for ${JSON.stringify(name)}`);
  }

  /** The inode already given to a name, without allocating one. */
  peek(name: string): number | undefined {
    return this.byName.get(name);
  }

  nameOf(ino: number): string | undefined {
    return this.byIno.get(ino);
  }
}
