// The size the kernel is told for a secret (st_size in lookup/getattr replies).
//
// Direct I/O does not free a FUSE file from its size: sendfile(2) and splice(2) (busybox cat,
// so most containers' `cat`) are served through the page cache even on a direct-I/O handle
// (Linux 6.5 onwards, until the kernel routes them through copy_splice_read), and a read there
// stops at the size of the last attribute reply. A size below the plaintext's cuts that read
// short, a size of 0 makes it print nothing, and nothing asks for the size again between the
// open (which decrypts) and that read. A size above it is harmless: the first short page read
// sets the kernel's size to the real one, provided no answer past the end overtakes it (the open
// passes the true size to the addon, which sees to that: native/src/eof_gate.c). So until the
// first decrypt learns the exact size, a secret of unknown size shows an upper bound, never less.
// Authorise before decrypting: the bound comes from the manifest entry and pald's limits, never
// from a decrypt.

import type { ManifestEntry } from '../store/index.js';

/**
 * The first that is known: the size a decrypt learnt (exact), the manifest's `size:` (exact, as
 * `pal seal` writes it), a bound read from the ciphertext without decrypting (Red October), and
 * last `limits.secret_bytes` (no secret decrypts to more; OpenPGP may be compressed, so its
 * ciphertext bounds nothing).
 */
export function statedSecretSize(entry: ManifestEntry, learnt: number | undefined, secretBytesLimit: number): number {
  return learnt ?? entry.size ?? entry.sizeBound ?? secretBytesLimit;
}

/**
 * True when statedSecretSize gives a bound, not the size. Then the first short page read must not
 * be overtaken by an answer past the end (a read-ahead READ further on, answered first, would set
 * the kernel's size there): the open that learns the size tells the addon, which holds such answers
 * until the end was answered (native/src/eof_gate.c).
 */
export function secretSizeIsBound(entry: ManifestEntry, learnt: number | undefined): boolean {
  return learnt === undefined && entry.size === undefined;
}
