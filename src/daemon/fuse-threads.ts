// How many threads read pald's /dev/fuse (the addon's `threads` mount option). Measured on the
// 2-core VM, 8 clients reading from inside a container, the floor and each mode alternated round by
// round (docs/performance.md, "JS thread vs worker threads"): two worker threads, which answer the
// warm path in C, keep up with the floor's 4 threads far better than the JS thread alone, and are
// no slower with 1 client. PAL_FUSE_THREADS overrides it: 0 reads requests on the JS thread's event
// loop (the addon's own default), N > 0 starts N workers.

/** pald's worker threads when PAL_FUSE_THREADS is not set. */
export const DEFAULT_PALD_FUSE_THREADS = 2;
const MAX_FUSE_THREADS = 64; // the addon's limit

/** The reader threads pald mounts with; throws on a PAL_FUSE_THREADS that is not 0..64. */
export function paldFuseThreads(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.PAL_FUSE_THREADS?.trim();
  if (raw === undefined || raw === '') return DEFAULT_PALD_FUSE_THREADS;
  const n = Number(raw);
  if (!/^\d{1,2}$/.test(raw) || n > MAX_FUSE_THREADS)
    throw new RangeError(`PAL_FUSE_THREADS must be an integer 0..${MAX_FUSE_THREADS}, not "${raw}"`);
  return n;
}
