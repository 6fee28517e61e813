// Whether pald asks the kernel for FUSE passthrough (the addon's `passthrough` mount option):
// an open secret is then read by the kernel from the plaintext's own locked pages, with no READ
// request through pald. Measured on the 2-core VM, 8 clients reading from inside a container,
// round by round against the C floor (docs/performance.md, "The kernel reads the plaintext
// itself"): 0.81× the floor's time per open with it, 1.11× without. PAL_FUSE_PASSTHROUGH=0 turns
// it off (reads come to pald as before); the kernel must offer it (Linux >= 6.9) and pald hold
// CAP_SYS_ADMIN, else every open is answered as before.

/** pald's passthrough choice; throws on a PAL_FUSE_PASSTHROUGH that is not 0 or 1. */
export function paldFusePassthrough(env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = env.PAL_FUSE_PASSTHROUGH?.trim();
  if (raw === undefined || raw === '' || raw === '1') return true;
  if (raw === '0') return false;
  throw new RangeError(`PAL_FUSE_PASSTHROUGH must be 0 or 1, not "${raw}"`);
}
