// A secret whose size is unknown until its first decrypt (a manifest entry without `size:`) reads
// whole the first time, through a real FUSE mount: busybox cat (sendfile, which the kernel serves
// through the page cache and ends at the file's size even on a direct-I/O handle), GNU cat
// (read), Node and GNU cp, each by a process that never stat'ed the file and by one that did.
// After the first decrypt stat shows the exact size. No containers: the host caller (uid 0) reads.
// (first-read-fastpath.test.ts runs the same with the warm path off.)

import test from 'ava';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { startPald, type TestPald } from '../helpers/pald.js';
import { waitFor } from '../helpers/wait.js';

// Bigger than a page and than one read-ahead window: a bound or a real size must hold across pages.
const values = {
  small: Buffer.from(`first-read-${randomBytes(12).toString('hex')}\n`),
  large: randomBytes(300 * 1024 + 17),
};
type Reader = (path: string) => Promise<Buffer>;

/** stdout of a command, as bytes. */
function output(cmd: string, args: readonly string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'buffer', maxBuffer: 4 << 20, timeout: 30_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(' ')}: ${err.message} ${stderr.toString()}`)) : resolve(stdout),
    );
  });
}

const readers: Record<string, Reader> = {
  'busybox cat (sendfile)': (p) => output('busybox', ['cat', p]),
  'GNU cat (read)': (p) => output('cat', [p]),
  'node readFile': (p) => readFile(p),
  // What entrypoints do with certificates: FICLONE and copy_file_range first (EXDEV here), then read.
  'GNU cp': async (p) => {
    const copy = join(scratch!, `copy-${randomBytes(6).toString('hex')}`);
    try {
      await output('cp', [p, copy]);
      return await readFile(copy);
    } finally {
      await rm(copy, { force: true });
    }
  },
};
const cases = Object.entries(readers).flatMap(([reader, read]) =>
  (['small', 'large'] as const).flatMap((value) =>
    [false, true].map((statFirst) => ({
      name: `s${Object.keys(readers).indexOf(reader)}-${value}-${statFirst ? 'statted' : 'fresh'}`,
      title: `${reader}, ${value}, ${statFirst ? 'stat first' : 'never stat-ed'}`,
      read,
      value: values[value],
      statFirst,
    })),
  ),
);

let pald: TestPald | undefined;
let scratch: string | undefined;

test.before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'pal-first-read-it-'));
  pald = await startPald({ dockerHost: `unix://${join(scratch, 'no-docker.sock')}`, hostAllowUids: [0] });
  for (const c of cases) await pald.seal(c.name, ['a'], c.value);
  // As a hand-written manifest has it: no size: (pal seal records one).
  const doc = parseDocument(await readFile(pald.manifest, 'utf8'));
  for (const c of cases) doc.deleteIn(['secrets', c.name, 'size']);
  await writeFile(`${pald.manifest}.tmp`, doc.toString(), { mode: 0o644 });
  await rename(`${pald.manifest}.tmp`, pald.manifest);
  // Wait through the admin socket, never by reading a secret (that would learn its size).
  await waitFor('pald to serve the entries without size:', async () => {
    const r = await pald!.pal('secrets', '--json');
    const list = r.code === 0 ? (JSON.parse(r.stdout) as { size: number | null }[]) : [];
    return list.length === cases.length && list.every((e) => e.size === null);
  });
});

test.after.always(async () => {
  await pald?.cleanup();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

for (const c of cases) {
  test.serial(`first read is whole: ${c.title}`, async (t) => {
    const path = join(pald!.mountpoint, c.name);
    if (c.statFirst) t.true((await stat(path)).size >= c.value.length, 'before the first decrypt: not below the size');
    const got = await c.read(path);
    t.is(got.length, c.value.length);
    t.true(got.equals(c.value), 'the whole plaintext on the first read');
    t.is((await stat(path)).size, c.value.length, 'after the first decrypt: the exact size');
    t.true((await c.read(path)).equals(c.value), 'and again');
  });
}
