// What a ciphertext can make pald do: decompress at most limits.secret_bytes (a small compressed
// message cannot inflate to gigabytes), read only regular files, and decrypt only bytes File safety
// vouches for; key files that others could change or read are refused.
import test from 'ava';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as openpgp from 'openpgp';
import { encodePayload, OpenPgpBackend, SecretCache, SecretError, sealOpenPgp } from '../../../src/crypto/index.js';
import type { ManifestEntry } from '../../../src/store/index.js';
import { FakeSecureMemory } from '../../helpers/fake-secure.js';

const dirs: string[] = [];
test.after.always(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function fresh(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pal-crypto-limits-'));
  dirs.push(dir);
  return dir;
}

const keyPromise = openpgp.generateKey({ userIDs: [{ name: 'host' }], format: 'armored' });

async function keysDir(): Promise<string> {
  const dir = await fresh();
  const keys = path.join(dir, 'keys');
  await mkdir(keys, { mode: 0o700 });
  await writeFile(path.join(keys, 'host.key'), (await keyPromise).privateKey, { mode: 0o600 });
  return keys;
}

function entryFor(name: string, file: string, ct: Uint8Array): ManifestEntry {
  return {
    name,
    labels: ['a'],
    mode: 0o400,
    backend: 'openpgp',
    ciphertextPath: file,
    version: createHash('sha256').update(ct).digest('hex'),
    mtimeMs: 0,
  };
}

/** A valid pal message whose payload is `zeros` zero bytes, zlib-compressed inside the encryption. */
async function bomb(zeros: number): Promise<Uint8Array> {
  const payload = encodePayload({ name: 'bomb', labels: ['a'] }, new Uint8Array(zeros));
  const encryptionKeys = await openpgp.readKey({ armoredKey: (await keyPromise).publicKey });
  const message = await openpgp.createMessage({ binary: payload, format: 'binary' });
  return openpgp.encrypt({
    message,
    encryptionKeys,
    format: 'binary',
    config: { preferredCompressionAlgorithm: openpgp.enums.compression.zlib },
  });
}

test('decompression bomb: a small ciphertext inflating past limits.secret_bytes is corrupt; a normal secret still decrypts', async (t) => {
  const keys = await keysDir();
  const mem = new FakeSecureMemory();
  const backend = await OpenPgpBackend.load(keys, { allocSecure: mem.from, maxSecretBytes: 1024 * 1024 });
  const ct = await bomb(32 * 1024 * 1024);
  t.true(ct.length < 64 * 1024, `the bomb is small: ${ct.length} bytes`);
  const err = await t.throwsAsync(backend.decrypt(entryFor('bomb', '/nonexistent', ct), ct), {
    instanceOf: SecretError,
  });
  t.is(err?.code, 'corrupt');
  t.regex(err!.message, /Maximum decompressed message size exceeded/);
  t.is(mem.live(), 0);

  // Just under the limit, compressed the same way: served.
  const fine = await bomb(1024 * 1024);
  const s = await backend.decrypt(entryFor('bomb', '/nonexistent', fine), fine);
  t.is(s.plaintext.length, 1024 * 1024);
  const normal = await sealOpenPgp({
    name: 'db',
    labels: ['a'],
    plaintext: Buffer.from('hunter2'),
    publicKeysArmored: [(await keyPromise).publicKey],
  });
  t.is((await backend.decrypt(entryFor('db', '/nonexistent', normal), normal)).plaintext.read().toString(), 'hunter2');
});

test('the default limit (16 MiB) stops a 32 MiB bomb', async (t) => {
  const keys = await keysDir();
  const backend = await OpenPgpBackend.load(keys, { allocSecure: new FakeSecureMemory().from });
  const ct = await bomb(32 * 1024 * 1024);
  const err = await t.throwsAsync(backend.decrypt(entryFor('bomb', '/nonexistent', ct), ct), {
    instanceOf: SecretError,
  });
  t.is(err?.code, 'corrupt');
});

test('an uncompressed plaintext over limits.secret_bytes is corrupt, and so is a ciphertext too big for the limit', async (t) => {
  const keys = await keysDir();
  const backend = await OpenPgpBackend.load(keys, { allocSecure: new FakeSecureMemory().from, maxSecretBytes: 1000 });
  const pub = (await keyPromise).publicKey;
  const ct = await sealOpenPgp({
    name: 'big',
    labels: ['a'],
    plaintext: Buffer.alloc(1001, 1),
    publicKeysArmored: [pub],
  });
  await t.throwsAsync(backend.decrypt(entryFor('big', '/x', ct), ct), {
    instanceOf: SecretError,
    message: /larger than limits.secret_bytes \(1000\)/,
  });
  const huge = await sealOpenPgp({
    name: 'big',
    labels: ['a'],
    plaintext: Buffer.alloc(2 * 1024 * 1024, 1),
    publicKeysArmored: [pub],
  });
  await t.throwsAsync(backend.decrypt(entryFor('big', '/x', huge), huge), {
    instanceOf: SecretError,
    message: /ciphertext of \d+ bytes is larger than/,
  });
  const ok = await sealOpenPgp({
    name: 'ok',
    labels: ['a'],
    plaintext: Buffer.alloc(1000, 1),
    publicKeysArmored: [pub],
  });
  t.is((await backend.decrypt(entryFor('ok', '/x', ok), ok)).plaintext.length, 1000);
});

test('cache: bytes changed since the manifest load are decrypted only if File safety holds; a FIFO swapped in does not block', async (t) => {
  t.timeout(60_000);
  const keys = await keysDir();
  const dir = path.dirname(keys);
  const backend = await OpenPgpBackend.load(keys, { allocSecure: new FakeSecureMemory().from });
  const cache = new SecretCache({ openpgp: backend }, { ttlMs: 0, maxBytes: 1 << 20, sweepIntervalMs: 0 });
  t.teardown(() => cache.close());
  const pub = (await keyPromise).publicKey;
  const file = path.join(dir, 'db.pgp');
  const v1 = await sealOpenPgp({ name: 'db', labels: ['a'], plaintext: Buffer.from('one'), publicKeysArmored: [pub] });
  await writeFile(file, v1);
  const entry = entryFor('db', file, v1);

  // The bytes the last good manifest load checked: served even after a chmod (nothing changed them).
  await chmod(file, 0o666);
  t.is((await cache.get(entry)).plaintext.read().toString(), 'one');
  // Different bytes in a file others can write: refused.
  const v2 = await sealOpenPgp({ name: 'db', labels: ['a'], plaintext: Buffer.from('two'), publicKeysArmored: [pub] });
  await writeFile(file, v2);
  const err = await t.throwsAsync(cache.get(entry), {
    instanceOf: SecretError,
    message: /mode 0666 is writable by group or others/,
  });
  t.is(err?.code, 'corrupt');
  // Rotated by root (safe): served ahead of the manifest reload, as before.
  await chmod(file, 0o644);
  t.is((await cache.get(entry)).plaintext.read().toString(), 'two');
  // A FIFO or a symlink swapped in: an error, at once.
  await rm(file);
  execFileSync('mkfifo', ['-m', '0600', file]);
  await t.throwsAsync(cache.get(entry), { instanceOf: SecretError, message: /not a regular file \(a FIFO\)/ });
  await rm(file);
  await writeFile(path.join(dir, 'other.pgp'), v1);
  await symlink(path.join(dir, 'other.pgp'), file);
  await t.throwsAsync(cache.get(entry), { instanceOf: SecretError, message: /not a regular file \(a symlink\)/ });
});

test('File safety of keys: load fails on a 0644 key, a key owned by someone else, a group-writable keys dir, a symlinked key', async (t) => {
  const keys = await keysDir();
  const key = path.join(keys, 'host.key');
  const load = (): Promise<OpenPgpBackend> => OpenPgpBackend.load(keys, { allocSecure: new FakeSecureMemory().from });
  await chmod(key, 0o644);
  await t.throwsAsync(load(), {
    message: `private key ${key}: mode 0644 is readable by group or others (owner uid 0); a private key must be 0600`,
  });
  await chmod(key, 0o600);
  await chown(key, 4242, 4242);
  await t.throwsAsync(load(), { message: new RegExp(`private key ${key}: owned by uid 4242`) });
  await chown(key, 0, 0);
  await chmod(keys, 0o777);
  await t.throwsAsync(load(), {
    message: new RegExp(`key directory ${keys}: mode 0777 is writable by group or others`),
  });
  await chmod(keys, 0o700);
  await rename(key, path.join(path.dirname(keys), 'elsewhere.key'));
  await symlink(path.join(path.dirname(keys), 'elsewhere.key'), key);
  await t.throwsAsync(load(), { message: /is a symlink/ });
  await rm(key);
  await rename(path.join(path.dirname(keys), 'elsewhere.key'), key);
  t.is((await load()).keyIds().length, 1);
});

test('File safety of keys at a reload: an unsafe key keeps the keys loaded before, reported as a problem', async (t) => {
  const keys = await keysDir();
  const backend = await OpenPgpBackend.load(keys, { allocSecure: new FakeSecureMemory().from });
  const before = backend.keyIds();
  t.is(before.length, 1);
  const other = await openpgp.generateKey({ userIDs: [{ name: 'planted' }], format: 'armored' });
  await writeFile(path.join(keys, 'planted.key'), other.privateKey, { mode: 0o644 });
  await chmod(path.join(keys, 'planted.key'), 0o644);
  await backend.reloadKeys();
  t.deepEqual(backend.keyIds(), before);
  t.true(backend.problems().some((p) => p.safety && /planted\.key: mode 0644 is readable/.test(p.message)));
  await chmod(path.join(keys, 'planted.key'), 0o600);
  await backend.reloadKeys();
  t.is(backend.keyIds().length, 2);
  t.deepEqual([...backend.problems()], []);
});

test('File safety of the passphrase file: 0644 refused at load; a link to a 0600 one is followed', async (t) => {
  const keys = await keysDir();
  const dir = path.dirname(keys);
  const locked = await openpgp.generateKey({ userIDs: [{ name: 'locked' }], format: 'armored', passphrase: 'pw' });
  await writeFile(path.join(keys, 'locked.key'), locked.privateKey, { mode: 0o600 });
  const pass = path.join(dir, 'pass');
  await writeFile(pass, 'pw\n', { mode: 0o644 });
  await chmod(pass, 0o644);
  const load = (passphraseFile: string): Promise<OpenPgpBackend> =>
    OpenPgpBackend.load(keys, { allocSecure: new FakeSecureMemory().from, passphraseFile });
  await t.throwsAsync(load(pass), {
    message: `passphrase ${pass}: mode 0644 is readable by group or others (owner uid 0); a passphrase must be 0600`,
  });
  await chmod(pass, 0o600);
  const link = path.join(dir, 'pass-link');
  await symlink(pass, link);
  const b = await load(link);
  t.is(b.keyIds().length, 2);
  t.deepEqual([...b.problems()], []);
});
