// Inode layout of the pal filesystem. A secret version's inode number is derived from its name and
// version with a keyed hash (a random key per pald run, handed to the next pald on a restart), so
// the numbers a caller sees say nothing about how many other secrets exist or in which order they
// were seen (sequential numbers would). A number is never given to two versions (collisions are
// checked and re-derived) and stays for the life of the daemon.
//
// One inode per version, not per name: with FUSE passthrough the kernel reads an open file from
// the plaintext's own pages and allows one such backing per inode at a time (an open of other
// content fails while a file of the inode is open). A rotated secret is a new inode, as a file
// replaced by rename is: handles of the old version keep reading it, new opens get the new one.
// For the same reason each pald run numbers in its own epoch (its session generation): a
// restarted pald never opens an inode whose files the previous pald's backings still serve; it
// knows the previous epoch's numbers of the current versions (adopt), for the kernel's requests
// on handles opened before the restart.

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

/** Derives the inode candidate number `attempt` for an identity (attempt 0 first, then 1, … on collision). */
export type InoDerivation = (identity: string, attempt: number) => number;

/** HMAC-SHA256 under `key`, truncated to INO_BITS. */
export function keyedInoDerivation(key: Uint8Array): InoDerivation {
  return (name, attempt) =>
    createHmac('sha256', key)
      .update(`${attempt}\0${name}`)
      .digest()
      .readUIntBE(0, INO_BITS / 8);
}

export class SecretInodes {
  /** Every number given, by identity (epoch, name, version). */
  private readonly byIdentity = new Map<string, number>();
  /** Every number given to a name, whatever its version or epoch. */
  private readonly byName = new Map<string, Set<number>>();
  private readonly byIno = new Map<number, string>();
  private readonly derive: InoDerivation;

  /**
   * By default a fresh random key: numbers differ from one pald run to the next. `epoch`: this
   * run's (its session generation; the numbers of one key differ from epoch to epoch).
   */
  constructor(
    derive: InoDerivation = keyedInoDerivation(randomBytes(32)),
    private readonly epoch = 1,
  ) {
    this.derive = derive;
  }

  /** The inode of a secret version, derived on first sight and never reused for another. */
  inoFor(name: string, version: string): number {
    return this.number(this.epoch, name, version);
  }

  /** Learns the number another epoch (the previous pald) gave a version: nameOf knows it then. */
  adopt(epoch: number, name: string, version: string): number {
    return this.number(epoch, name, version);
  }

  /** The numbers already given to a name, without allocating one. */
  inosOf(name: string): readonly number[] {
    return [...(this.byName.get(name) ?? [])];
  }

  nameOf(ino: number): string | undefined {
    return this.byIno.get(ino);
  }

  private number(epoch: number, name: string, version: string): number {
    const identity = `${epoch}\0${name}\0${version}`;
    const known = this.byIdentity.get(identity);
    if (known !== undefined) return known;
    for (let attempt = 0; attempt < MAX_DERIVATIONS; attempt++) {
      const ino = this.derive(identity, attempt);
      if (!Number.isSafeInteger(ino) || ino < FIRST_SECRET_INO || this.byIno.has(ino)) continue;
      this.byIdentity.set(identity, ino);
      this.byIno.set(ino, name);
      const inos = this.byName.get(name) ?? new Set<number>();
      inos.add(ino);
      this.byName.set(name, inos);
      return ino;
    }
    // 64 collisions in a 2^48 space do not happen with a keyed hash; a broken derivation might.
    throw new Error(`no free inode number for ${JSON.stringify(name)}`);
  }
}
