// A pald view over real FUSE for profiling one warm open (no dockerd): the host caller (uid 0,
// in host.allow_uids) reads one 64-byte secret; identity and trust are answered at once, as the
// resolver's and trust service's caches do when warm. Usage:
//   node dist/test/bench/open-server.js MOUNTPOINT on|off [REUSE_MS] [THREADS]
// (REUSE_MS: the caller reuse window; under valgrind, which runs ~50× slower, 2500 keeps the
// hit rate of the real 50 ms; THREADS: the addon's worker threads, default 0 = the JS thread.)
// Prints "ready", unmounts and exits on a line on stdin. Run it under callgrind or --cpu-prof.
import { openSync, readSync } from 'node:fs';
import { createInterface } from 'node:readline';

import { createPalFilesystem } from '../../src/fs/index.js';
import { mount, secureBufferFrom } from '../../src/native/index.js';
import { harness, entry } from '../unit/fs/fakes.js';

const [mountpoint, mode, reuseMs, threads] = process.argv.slice(2);
if (!mountpoint || (mode !== 'on' && mode !== 'off')) {
  process.stderr.write('usage: open-server MOUNTPOINT on|off\n');
  process.exit(2);
}
const h = harness([entry('warm', ['bench'], { size: 64 })]);
h.allowUids.push(0);
const plaintext = secureBufferFrom(Buffer.alloc(64, 'x'));
// As the resolver does: a pinned /proc/<pid>/stat fd per process, read again with pread.
const pinned = new Map<number, number>();
const statBuf = Buffer.alloc(1024);
function startTime(pid: number): string | undefined {
  try {
    let fd = pinned.get(pid);
    if (fd === undefined) pinned.set(pid, (fd = openSync(`/proc/${pid}/stat`, 'r')));
    const stat = statBuf.toString('latin1', 0, readSync(fd, statBuf, 0, statBuf.length, 0));
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
const view = createPalFilesystem({
  ...h.deps,
  identity: {
    resolve: async (c) => {
      const start = startTime(c.pid);
      return {
        kind: 'host',
        pid: c.pid,
        tgid: c.pid,
        uid: c.uid,
        gid: c.gid,
        ...(start === undefined ? {} : { startTime: start }),
      };
    },
    startTime,
  },
  secrets: { get: async (e) => ({ plaintext, sealedName: e.name, sealedLabels: e.labels }) },
  clock: () => performance.now(),
  callerRefresh: true, // as pald: callers in use are attested again in the background
  fastPath: mode === 'on',
  ...(reuseMs && reuseMs !== '-' ? { callerReuseMs: Number(reuseMs) } : {}),
});
const fuse = await mount(mountpoint, view.handlers, { threads: Number(threads ?? 0) });
view.attachKernel(fuse);
createInterface({ input: process.stdin }).once('line', () => {
  process.stdout.write(JSON.stringify(fuse.fastPath.stats()) + '\n');
  view.attachKernel(undefined);
  void fuse.unmount().then(() => process.exit(0));
});
process.stdout.write('ready\n');
