// A steady reader never waits on JS for its re-attestation (src/fs/caller-refresh.ts): real
// processes read a secret in a loop through a real FUSE mount for several caller reuse windows;
// JS attests the reader again in the background before each window ends and extends it in the
// addon, so after its first open every request is answered in C across the window boundaries.
// A reader whose attestation changes mid-run (moved to another container) is not extended: its
// window lapses and JS, attesting it on the request path, refuses it.
// (Identity is pal's own interface, faked as in native-fastpath.test.ts: the test decides which
// container a pid is in.)
import test from 'ava';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createPalFilesystem } from '../../src/fs/index.js';
import { mount, secureBufferFrom } from '../../src/native/index.js';
import type { Identity } from '../../src/identity/types.js';
import { waitFor } from '../helpers/wait.js';
import { harness, entry, container, IMAGE_DEMO, IMAGE_PLAIN, lineAuditSink } from '../unit/fs/fakes.js';
import { startTime } from '../helpers/proc-start.js';

const READER = 2101; // the reader's uid (and gid)
// Long enough that a loaded machine still runs the refresh (a quarter window before the end) in time.
const WINDOW_MS = 500;

/**
 * The view over real FUSE with the refresh on and a WINDOW_MS reuse window; identities come from
 * `identities` (the test moves a reader to another container by replacing its entry), and each
 * resolution of a pid is counted.
 */
async function mountView(threads: number) {
  const dir = await mkdtemp(join(tmpdir(), 'pal-refresh-'));
  await chmod(dir, 0o755);
  const mountpoint = join(dir, 'mnt');
  await mkdir(mountpoint);
  const h = harness([entry('db-password', ['demo'], { size: 14 })]);
  const plaintext = secureBufferFrom(Buffer.from('hunter2-secret'));
  const identities = new Map<number, Identity>();
  const startTimes = new Map<number, string | undefined>();
  const resolved = new Map<number, number>();
  const view = createPalFilesystem({
    ...h.deps,
    audit: lineAuditSink(h.audit), // the addon writes the lines of the opens it replays
    identity: {
      async resolve(c) {
        resolved.set(c.pid, (resolved.get(c.pid) ?? 0) + 1);
        const who = identities.get(c.pid);
        if (!who)
          return { kind: 'unknown', pid: c.pid, tgid: c.pid, uid: c.uid, gid: c.gid, reason: 'no such process' };
        return { ...who, startTime: startTimes.get(c.pid) } as Identity;
      },
      startTime: (pid) => startTimes.get(pid),
    },
    secrets: { get: async (e) => ({ plaintext, sealedName: e.name, sealedLabels: e.labels }) },
    clock: () => performance.now(),
    fastPath: true,
    callerReuseMs: WINDOW_MS,
    callerRefresh: true,
  });
  const fuse = await mount(mountpoint, view.handlers, { extraOptions: ['allow_other'], threads });
  view.attachKernel(fuse);
  const close = async (): Promise<void> => {
    view.attachKernel(undefined);
    await fuse.unmount();
    await rm(dir, { recursive: true, force: true });
  };
  return { h, view, fuse, mountpoint, identities, startTimes, resolved, close };
}

// Opens, reads and closes the secret in a loop for argv[2] ms (or until refused when argv[3] is
// "until-denied"), then prints what it got. (Its first open's LOOKUP and OPEN go to JS.)
const LOOP = `
const fs = require('node:fs');
const [path, ms, mode] = [process.argv[1], Number(process.argv[2]), process.argv[3]];
process.stdin.once('data', () => {
  const start = Date.now();
  let good = 0, n = 0, denied = '';
  while (Date.now() - start < ms) {
    n++;
    try {
      const fd = fs.openSync(path, 'r');
      const b = Buffer.alloc(64);
      if (b.toString('utf8', 0, fs.readSync(fd, b, 0, 64, 0)) === 'hunter2-secret') good++;
      fs.closeSync(fd);
    } catch (e) {
      denied = e.code;
      if (mode === 'until-denied') break;
    }
  }
  process.stdout.write(JSON.stringify({ n, good, denied, ms: Date.now() - start }));
  process.exit(0);
});
`;

interface LoopResult {
  n: number;
  good: number;
  denied: string;
  ms: number;
}

/** Runs LOOP as READER in container `app`; `started` gets its pid once the view knows its start time. */
function reader(
  v: Awaited<ReturnType<typeof mountView>>,
  ms: number,
  mode: 'for' | 'until-denied',
  started: (pid: number) => void = () => undefined,
): Promise<LoopResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', LOOP, join(v.mountpoint, 'db-password'), String(ms), mode], {
      uid: READER,
      gid: READER,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const pid = child.pid!;
    v.identities.set(pid, { ...container(pid, IMAGE_DEMO, 'app'), uid: READER, gid: READER });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as LoopResult) : reject(new Error(`exit ${code}`)),
    );
    void startTime(pid).then((st) => {
      v.startTimes.set(pid, st);
      started(pid);
      child.stdin.write('go\n');
    });
  });
}

for (const threads of [0, 2]) {
  test(`a reader looping for 6 windows is answered in C across each window's end (threads ${threads})`, async (t) => {
    const v = await mountView(threads);
    let pid = 0;
    try {
      const got = await reader(v, 6 * WINDOW_MS, 'for', (p) => (pid = p));
      t.true(got.n > 6 && got.good === got.n, JSON.stringify(got));
      t.true(got.ms >= 6 * WINDOW_MS);
      const stats = v.fuse.fastPath.stats();
      // Its first two opens went to JS (the first decrypt learns the secret's exact size, which
      // moves the generation: the lease of the first is dropped, the second leases again); the
      // later ones, across each window's end, were answered in C. Without the refresh one more
      // per window goes to JS (8 here); a loaded machine may run one refresh late, which costs
      // one window's end (its LOOKUP and OPEN, and the OPEN after whose lease came too late).
      t.true(stats.toJs.open <= 4, JSON.stringify(stats));
      t.is(stats.openHits, got.n - stats.toJs.open, JSON.stringify(stats));
      // Attested again in the background about once per window, and extended in the addon.
      t.true(stats.extended >= 4, JSON.stringify(stats));
      t.true(v.resolved.get(pid)! >= 1 + stats.extended, 'each extension followed an attestation');
    } finally {
      await v.close();
    }
    // Every open has its audit line, as without the refresh.
    const opens = v.h.audit.filter((e) => e.op === 'open' && e.secret === 'db-password');
    t.true(opens.length > 5 && opens.every((e) => e.decision === 'allow' && e.pid === pid));
  });
}

test('a reader moved to another container mid-run is not extended: it is refused within a window or so', async (t) => {
  const v = await mountView(0);
  try {
    let pid = 0;
    const running = reader(v, 40 * WINDOW_MS, 'until-denied', (p) => (pid = p));
    // Once the addon has extended it at least once, the reader's container changes (its cgroup
    // now names a container whose image carries no labels).
    await waitFor('a first extension', () => v.fuse.fastPath.stats().extended >= 1, { intervalMs: 10 });
    const extendedBefore = v.fuse.fastPath.stats().extended;
    v.identities.set(pid, { ...container(pid, IMAGE_PLAIN, 'other'), uid: READER, gid: READER });
    const got = await running;
    // Refused: its lookup (a secret it may not see does not exist for it), or its open when the
    // lookup was answered in C just before the window ended.
    t.true(got.denied === 'ENOENT' || got.denied === 'EACCES', JSON.stringify(got));
    t.true(got.good > 0);
    const stats = v.fuse.fastPath.stats();
    // At most the refresh already in flight when the container changed extended it once more.
    t.true(stats.extended <= extendedBefore + 1, JSON.stringify(stats));
    // The refusal was JS's, attesting the reader on the request path after its window lapsed.
    const denial = v.h.audit.find((e) => e.decision === 'deny');
    t.like(denial, { pid, op: got.denied === 'ENOENT' ? 'lookup' : 'open', secret: 'db-password' });
  } finally {
    await v.close();
  }
});
