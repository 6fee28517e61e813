// File safety (SPEC §3) through a real pald: a manifest others can write refuses start with a
// message naming file and mode; at a reload a group-writable ciphertext is a problem in
// `pal status` and the last good manifest keeps serving (substituted bytes are never decrypted).
// No containers: the host caller (uid 0, in host.allow_uids) reads through the mount.

import test from 'ava';
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { parseDocument } from 'yaml';
import { encodePayload } from '../../src/crypto/index.js';
import { pal, startPald, type TestPald } from '../helpers/pald.js';
import { waitFor } from '../helpers/wait.js';

let pald: TestPald | undefined;
let scratch: string | undefined;

test.before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'pal-safety-it-'));
  // Docker is never asked: only host callers here.
  pald = await startPald({ dockerHost: `unix://${join(scratch, 'no-docker.sock')}`, hostAllowUids: [0] });
  await pald.seal('db', ['a'], 'one');
  await waitFor('db to be served', () => readFile(join(pald!.mountpoint, 'db'), 'utf8').then((v) => v === 'one'));
});

test.after.always(async () => {
  await pald?.cleanup();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

interface Status {
  manifest: { generation: number; entries: number; problems: { message: string; entry?: string }[] };
}
async function status(): Promise<Status> {
  const r = await pald!.pal('status', '--json');
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as Status;
}

/** A ciphertext of `value` for `name`, sealed by `pal seal` into a scratch manifest. */
async function sealedElsewhere(name: string, value: string): Promise<Buffer> {
  const dir = await mkdtemp(join(scratch!, 'seal-'));
  const r = await pal(
    ['seal', '--name', name, '--label', 'a', '--key', pald!.publicKey, '--manifest', join(dir, 'secrets.yaml')],
    { input: value },
  );
  if (r.code !== 0) throw new Error(r.stderr);
  return readFile(join(dir, `${name}.pgp`));
}

const read = (name: string): Promise<string> => readFile(join(pald!.mountpoint, name), 'utf8');

test.serial(
  'a FIFO named in the manifest: a problem for that entry at the next reload, the others keep serving (no hang)',
  async (t) => {
    const etcDir = join(pald!.dir, 'etc');
    execFileSync('mkfifo', ['-m', '0600', join(etcDir, 'pipe.pgp')]);
    const text = await readFile(pald!.manifest, 'utf8');
    const doc = parseDocument(text);
    doc.setIn(['secrets', 'pipe'], { file: 'pipe.pgp', labels: ['a'] });
    await writeFile(`${pald!.manifest}.tmp`, doc.toString(), { mode: 0o644 });
    await rename(`${pald!.manifest}.tmp`, pald!.manifest);
    const s = await waitFor('the reload with the FIFO', async () => {
      const st = await status();
      return (
        st.manifest.problems.some(
          (p) => p.entry === 'pipe' && /pipe\.pgp: not a regular file \(a FIFO\)/.test(p.message),
        ) && st
      );
    });
    t.is(s.manifest.entries, 1);
    t.is(await read('db'), 'one');
    // A SIGHUP reload settles too (before the fix every later reload waited on the blocked one).
    const marker = (pald!.output().match(/pald: reloaded/g) ?? []).length;
    process.kill(pald!.pid, 'SIGHUP');
    await waitFor('pald to reload', async () => (pald!.output().match(/pald: reloaded/g) ?? []).length > marker);
    await writeFile(`${pald!.manifest}.tmp`, text, { mode: 0o644 });
    await rename(`${pald!.manifest}.tmp`, pald!.manifest);
    await rm(join(etcDir, 'pipe.pgp'));
    await waitFor('the manifest without the FIFO', async () => (await status()).manifest.problems.length === 0);
  },
);

test.serial(
  'a reload to a group-writable ciphertext: the problem is in pal status, the last good keeps serving, substituted bytes are refused',
  async (t) => {
    const ct = join(pald!.dir, 'etc', 'db.pgp');
    const before = (await status()).manifest.generation;
    // An edit that adds a secret, while db.pgp has become group-writable.
    await chmod(ct, 0o664);
    await pald!.seal('added', ['a'], 'new');
    const s = await waitFor('the rejected reload', async () => {
      const st = await status();
      return (
        st.manifest.generation > before &&
        st.manifest.problems.some((p) => /db\.pgp: mode 0664 is writable by group or others/.test(p.message)) &&
        st
      );
    });
    t.true(s.manifest.problems.some((p) => /manifest rejected, serving the last good version/.test(p.message)));
    t.is(s.manifest.entries, 1, 'the last good manifest (without "added") serves');
    t.is(await read('db'), 'one');
    await t.throwsAsync(read('added'), { code: 'ENOENT' });

    // Someone in the group replaces the bytes: never decrypted, even on a cache miss (SIGHUP drops the cache).
    const evil = await sealedElsewhere('db', 'evil');
    await writeFile(`${ct}.tmp`, evil, { mode: 0o664 });
    await chmod(`${ct}.tmp`, 0o664);
    await rename(`${ct}.tmp`, ct);
    const marker = (pald!.output().match(/pald: reloaded/g) ?? []).length;
    process.kill(pald!.pid, 'SIGHUP');
    await waitFor('pald to reload', async () => (pald!.output().match(/pald: reloaded/g) ?? []).length > marker);
    const err = await t.throwsAsync(read('db'));
    t.is((err as NodeJS.ErrnoException).code, 'EIO');

    // Root puts it right: the pending edit goes through.
    await writeFile(`${ct}.tmp`, await sealedElsewhere('db', 'two'), { mode: 0o644 });
    await rename(`${ct}.tmp`, ct);
    await waitFor('the fixed manifest', async () => (await status()).manifest.entries === 2);
    t.deepEqual((await status()).manifest.problems, []);
    t.is(await read('db'), 'two');
    t.is(await read('added'), 'new');
  },
);

test.serial(
  'a decompression bomb (32 KiB → 32 MiB) is EIO for that secret; pald and the other secrets are unaffected',
  async (t) => {
    // A valid message for pald's key whose payload is 32 MiB of zeros, zlib-compressed inside.
    const payload = encodePayload({ name: 'bomb', labels: ['a'] }, new Uint8Array(32 * 1024 * 1024));
    const message = await openpgp.createMessage({ binary: payload, format: 'binary' });
    const encryptionKeys = await openpgp.readKey({ armoredKey: await readFile(pald!.publicKey, 'utf8') });
    const ct = await openpgp.encrypt({
      message,
      encryptionKeys,
      format: 'binary',
      config: { preferredCompressionAlgorithm: openpgp.enums.compression.zlib },
    });
    t.true(ct.length < 64 * 1024);
    // Sealed normally first (manifest entry and all), then its ciphertext swapped for the bomb by root.
    await pald!.seal('bomb', ['a'], 'placeholder');
    const file = join(pald!.dir, 'etc', 'bomb.pgp');
    await writeFile(`${file}.tmp`, ct, { mode: 0o644 });
    await rename(`${file}.tmp`, file);
    const code = await waitFor('the bomb to be refused', () =>
      read('bomb').then(
        () => undefined,
        (e: NodeJS.ErrnoException) => (e.code === 'EIO' ? e.code : undefined),
      ),
    );
    t.is(code, 'EIO');
    t.is(await read('db'), 'two');
    // The reason reaches the audit log (written asynchronously: wait for it).
    await waitFor('the audit line', () =>
      readFile(pald!.auditPath, 'utf8').then(
        (a) => /Maximum decompressed message size exceeded/.test(a),
        () => false,
      ),
    );
    // The process is alive and serving.
    process.kill(pald!.pid, 0);
  },
);

test.serial('a 0666 manifest refuses start, naming file and mode; fixed, pald starts', async (t) => {
  await pald!.stop();
  await chmod(pald!.manifest, 0o666);
  const err = await t.throwsAsync(pald!.start());
  t.regex(
    err!.message,
    new RegExp(
      `pald: cannot start: .*manifest ${pald!.manifest.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: mode 0666 is writable by group or others \\(owner uid 0\\)`,
    ),
  );
  await chmod(pald!.manifest, 0o644);
  await pald!.start();
  t.is(await read('db'), 'two');
});
