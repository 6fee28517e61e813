// Who reads pald's /dev/fuse: by default worker threads (named pal-fuse) answer the warm path in C
// (src/daemon/fuse-threads.ts, measured in docs/performance.md); PAL_FUSE_THREADS=0 puts the reads
// back on the JS thread. Either way a host caller (uid 0) reads its secret whole, again and again.

import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_PALD_FUSE_THREADS } from '../../src/daemon/index.js';
import { startPald } from '../helpers/pald.js';
import { waitFor } from '../helpers/wait.js';

/** Threads of `pid` with this name (/proc/<pid>/task/<tid>/comm). */
async function threadsNamed(pid: number, name: string): Promise<number> {
  let n = 0;
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const comm = await readFile(`/proc/${pid}/task/${tid}/comm`, 'utf8').catch(() => '');
    if (comm.trim() === name) n++;
  }
  return n;
}

for (const [mode, env, workers] of [
  ['default', {}, DEFAULT_PALD_FUSE_THREADS],
  ['PAL_FUSE_THREADS=0', { PAL_FUSE_THREADS: '0' }, 0],
  ['PAL_FUSE_THREADS=3', { PAL_FUSE_THREADS: '3' }, 3],
] as const) {
  test(`pald reads /dev/fuse with ${workers} worker thread(s) (${mode}) and serves a secret`, async (t) => {
    const scratch = await mkdtemp(join(tmpdir(), 'pal-fuse-threads-it-'));
    const pald = await startPald({
      dockerHost: `unix://${join(scratch, 'no-docker.sock')}`,
      hostAllowUids: [0],
      env,
    });
    try {
      const value = randomBytes(64);
      await pald.seal('s', ['a'], value);
      // Through the admin socket: the manifest reload is asynchronous.
      await waitFor('pald to list the sealed secret', async () => {
        const r = await pald.pal('secrets', '--json');
        return r.code === 0 && (JSON.parse(r.stdout) as unknown[]).length === 1;
      });
      t.is(await threadsNamed(pald.pid, 'pal-fuse'), workers);
      for (let i = 0; i < 50; i++) t.true((await readFile(join(pald.mountpoint, 's'))).equals(value));
    } finally {
      await pald.cleanup();
      await rm(scratch, { recursive: true, force: true });
    }
  });
}
