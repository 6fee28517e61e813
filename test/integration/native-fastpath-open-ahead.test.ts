// A new process's first open() of a secret decrypted already is answered in C (view-state.ts
// openAhead): its LOOKUP goes to JS, which attests the new caller and, the plaintext being cached,
// decides the open that follows and leases it to the addon; the OPEN never reaches JS. Real
// processes through a real FUSE mount, with the addon's worker threads and without. (Identity is
// pal's own interface, faked as in native-fastpath.test.ts: the test decides which container a pid
// is in.)
import test from 'ava';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createPalFilesystem } from '../../src/fs/index.js';
import { mount, secureBufferFrom } from '../../src/native/index.js';
import type { Identity } from '../../src/identity/types.js';
import type { ManifestEntry } from '../../src/store/index.js';
import { waitFor } from '../helpers/wait.js';
import { harness, entry, container, IMAGE_DEMO, IMAGE_PLAIN } from '../unit/fs/fakes.js';
import { startTime } from '../helpers/proc-start.js';

const READER = 2201; // the readers' uid (and gid)

/** The view over real FUSE, fast path on; `get` decrypts (counted), `peek` answers what was decrypted, like SecretCache. */
async function mountView(threads: number) {
  const dir = await mkdtemp(join(tmpdir(), 'pal-open-ahead-'));
  await chmod(dir, 0o755);
  const mountpoint = join(dir, 'mnt');
  await mkdir(mountpoint);
  const h = harness([entry('db-password', ['demo'], { size: 14 }), entry('api-token', ['demo'], { size: 14 })]);
  const plaintexts = new Map([
    ['db-password', secureBufferFrom(Buffer.from('hunter2-secret'))],
    ['api-token', secureBufferFrom(Buffer.from('tok-0123456789'))],
  ]);
  const identities = new Map<number, Identity>();
  const startTimes = new Map<number, string | undefined>();
  const decrypted = new Set<string>();
  const opened = (e: ManifestEntry) => ({
    plaintext: plaintexts.get(e.name)!,
    sealedName: e.name,
    sealedLabels: e.labels,
  });
  const view = createPalFilesystem({
    ...h.deps,
    identity: {
      async resolve(c) {
        const who = identities.get(c.pid);
        if (!who)
          return { kind: 'unknown', pid: c.pid, tgid: c.pid, uid: c.uid, gid: c.gid, reason: 'no such process' };
        return { ...who, startTime: startTimes.get(c.pid) } as Identity;
      },
      startTime: (pid) => startTimes.get(pid),
    },
    secrets: {
      get: async (e) => {
        decrypted.add(e.name);
        return opened(e);
      },
      peek: (e) => (decrypted.has(e.name) ? opened(e) : undefined),
    },
    clock: () => performance.now(),
    fastPath: true,
    // Long enough that a loaded machine still has the caller in its window between LOOKUP and OPEN.
    callerReuseMs: 5_000,
  });
  const fuse = await mount(mountpoint, view.handlers, { extraOptions: ['allow_other'], threads });
  view.attachKernel(fuse);
  const close = async (): Promise<void> => {
    view.attachKernel(undefined);
    await fuse.unmount();
    await rm(dir, { recursive: true, force: true });
    for (const p of plaintexts.values()) p.wipe();
  };
  return { h, fuse, mountpoint, identities, startTimes, decrypted, close };
}

// One open, read and close of argv[1] once stdin says go; prints what it read or the error code.
const ONCE = `
const fs = require('node:fs');
process.stdin.once('data', () => {
  let out;
  try {
    const fd = fs.openSync(process.argv[1], 'r');
    const b = Buffer.alloc(64);
    out = b.toString('utf8', 0, fs.readSync(fd, b, 0, 64, 0));
    fs.closeSync(fd);
  } catch (e) {
    out = e.code;
  }
  process.stdout.write(out);
  process.exit(0);
});
`;

/** A new process in container `name` of `image` reads `secret` once; its pid and what it got. */
function readOnce(
  v: Awaited<ReturnType<typeof mountView>>,
  secret: string,
  image = IMAGE_DEMO,
  name = 'app',
): Promise<{ pid: number; got: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', ONCE, join(v.mountpoint, secret)], {
      uid: READER,
      gid: READER,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const pid = child.pid!;
    v.identities.set(pid, { ...container(pid, image, name), uid: READER, gid: READER });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve({ pid, got: out }) : reject(new Error(`exit ${code}`))));
    void startTime(pid).then((st) => {
      v.startTimes.set(pid, st);
      child.stdin.write('go\n');
    });
  });
}

for (const threads of [0, 2]) {
  test(`a new process's first open of a secret decrypted already is answered in C and audited as JS would (threads ${threads})`, async (t) => {
    const v = await mountView(threads);
    try {
      const first = await readOnce(v, 'db-password');
      t.is(first.got, 'hunter2-secret');
      const before = v.fuse.fastPath.stats();
      t.is(before.toJs.open, 1, 'the first open decrypts, through JS');

      const next = await readOnce(v, 'db-password');
      t.is(next.got, 'hunter2-secret');
      const after = v.fuse.fastPath.stats();
      t.is(after.toJs.open, before.toJs.open, `its OPEN never reached JS: ${JSON.stringify(after)}`);
      t.true(after.toJs.lookup > before.toJs.lookup, 'its LOOKUP did: a new caller is attested by JS');
      t.is(after.openHits, before.openHits + 1);

      // A secret nobody decrypted yet: the lookup leases nothing, the open asks JS, which decrypts.
      t.false(v.decrypted.has('api-token'));
      const token = await readOnce(v, 'api-token');
      t.is(token.got, 'tok-0123456789');
      t.is(v.fuse.fastPath.stats().toJs.open, after.toJs.open + 1);

      // A process of a container without the labels: refused (the lookup), and no lease for it.
      const other = await readOnce(v, 'db-password', IMAGE_PLAIN, 'other');
      t.is(other.got, 'ENOENT');
      t.is(v.fuse.fastPath.stats().openHits, after.openHits);

      // The leased open has JS's own audit line: same caller fields, decision and reason.
      await waitForLine(v, next.pid);
      const lines = v.h.audit.filter((e) => e.op === 'open' && e.secret === 'db-password' && e.decision === 'allow');
      const firstLine = lines.find((e) => e.pid === first.pid)!;
      const nextLine = lines.find((e) => e.pid === next.pid)!;
      const { time: _t1, latency_us: _l1, pid: _p1, ...firstRest } = firstLine;
      const { time: _t2, latency_us: _l2, pid: _p2, ...nextRest } = nextLine;
      t.deepEqual(nextRest, firstRest);
    } finally {
      await v.close();
    }
  });
}

/** The addon reports opens in batches, a few ms after the fact. */
async function waitForLine(v: Awaited<ReturnType<typeof mountView>>, pid: number): Promise<void> {
  await waitFor('the leased open to be audited', () => v.h.audit.some((e) => e.pid === pid && e.op === 'open'), {
    intervalMs: 5,
  });
}
