import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as openpgp from 'openpgp';
import {
  OpenPgpBackend,
  SecretCache,
  SecretError,
  sealOpenPgp,
  encodePayload,
  type Backend,
  type OpenedSecret,
} from '../../../src/crypto/index.js';
import type { ManifestEntry } from '../../../src/store/index.js';
import { FakeSecureMemory } from '../../helpers/fake-secure.js';
import { waitFor } from '../../helpers/wait.js';

interface KeyPair {
  privateKey: string;
  publicKey: string;
}

async function keyPair(name: string, passphrase?: string): Promise<KeyPair> {
  const k = await openpgp.generateKey({
    userIDs: [{ name }],
    format: 'armored',
    ...(passphrase ? { passphrase } : {}),
  });
  return { privateKey: k.privateKey, publicKey: k.publicKey };
}

let dir: string;
let host: KeyPair;
let other: KeyPair;

test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pal-crypto-'));
  [host, other] = await Promise.all([keyPair('host'), keyPair('other')]);
  await mkdir(path.join(dir, 'keys'));
  await writeFile(path.join(dir, 'keys', 'host.key'), host.privateKey, { mode: 0o600 });
});

test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

let counter = 0;
/** Bytes that are not an OpenPGP packet stream (bit 7 of the first byte clear), unlike random bytes which sometimes are. */
const garbage = (n: number): Buffer => Buffer.alloc(n, 'not openpgp ');
async function sealed(
  name: string,
  labels: string[],
  value: Uint8Array,
  keys = [host.publicKey],
): Promise<ManifestEntry> {
  const ct = await sealOpenPgp({ name, labels, plaintext: Uint8Array.from(value), publicKeysArmored: keys });
  return entryFor(name, labels, ct);
}

async function entryFor(name: string, labels: string[], ct: Uint8Array): Promise<ManifestEntry> {
  const file = path.join(dir, `${name}-${counter++}.pgp`);
  await writeFile(file, ct);
  return {
    name,
    labels,
    mode: 0o400,
    backend: 'openpgp',
    ciphertextPath: file,
    version: createHash('sha256').update(ct).digest('hex'),
    mtimeMs: Date.now(),
  };
}

async function backend(mem = new FakeSecureMemory()): Promise<OpenPgpBackend> {
  return OpenPgpBackend.load(path.join(dir, 'keys'), { allocSecure: mem.from });
}

async function open(b: Backend, entry: ManifestEntry): Promise<OpenedSecret> {
  const { readFile } = await import('node:fs/promises');
  return b.decrypt(entry, await readFile(entry.ciphertextPath));
}

test('seal → decrypt round trip: text, sealed name and labels come back', async (t) => {
  const mem = new FakeSecureMemory();
  const b = await backend(mem);
  t.deepEqual(b.problems(), []);
  t.is(b.keyIds().length, 1);
  const e = await sealed('db-password', ['prod', 'billing'], Buffer.from('hunter2\n'));
  const s = await open(b, e);
  t.is(s.plaintext.read().toString(), 'hunter2\n');
  t.is(s.sealedName, 'db-password');
  t.deepEqual(s.sealedLabels, ['prod', 'billing']);
  t.is(mem.allocated.length, 1, 'plaintext went straight into secure memory');
});

test('1 MiB binary secret round-trips byte for byte', async (t) => {
  const b = await backend();
  const value = randomBytes(1024 * 1024);
  const e = await sealed('blob.bin', ['a'], value);
  const s = await open(b, e);
  t.is(s.plaintext.length, value.length);
  t.true(s.plaintext.read().equals(value));
});

test('empty secret round-trips', async (t) => {
  const b = await backend();
  const s = await open(b, await sealed('empty', ['a'], new Uint8Array(0)));
  t.is(s.plaintext.length, 0);
  t.is(s.sealedName, 'empty');
});

test('armored ciphertext is accepted too', async (t) => {
  const b = await backend();
  const payload = encodePayload({ name: 'armored', labels: ['x'] }, Buffer.from('v'));
  const armored = await openpgp.encrypt({
    message: await openpgp.createMessage({ binary: payload }),
    encryptionKeys: await openpgp.readKey({ armoredKey: host.publicKey }),
  });
  const s = await open(b, await entryFor('armored', ['x'], Buffer.from('\n' + armored)));
  t.is(s.plaintext.read().toString(), 'v');
});

test('corrupt ciphertext → SecretError corrupt', async (t) => {
  const b = await backend();
  const ct = await sealOpenPgp({
    name: 's',
    labels: ['a'],
    plaintext: Buffer.from('some secret value'),
    publicKeysArmored: [host.publicKey],
  });
  const flipped = Uint8Array.from(ct);
  flipped[flipped.length - 5]! ^= 0xff;
  const err1 = await t.throwsAsync(open(b, await entryFor('s', ['a'], flipped)), { instanceOf: SecretError });
  t.is(err1?.code, 'corrupt');
  t.false(err1!.message.includes('some secret value'));
  const err2 = await t.throwsAsync(open(b, await entryFor('s', ['a'], garbage(300))), { instanceOf: SecretError });
  t.is(err2?.code, 'corrupt');
  const err3 = await t.throwsAsync(open(b, await entryFor('s', ['a'], ct.subarray(0, ct.length - 40))), {
    instanceOf: SecretError,
  });
  t.is(err3?.code, 'corrupt');
});

test('a message that is not a pal payload → corrupt', async (t) => {
  const b = await backend();
  const ct = await openpgp.encrypt({
    message: await openpgp.createMessage({ binary: Buffer.from('{"labels":["a"],"value":"x"}') }),
    encryptionKeys: await openpgp.readKey({ armoredKey: host.publicKey }),
    format: 'binary',
  });
  const err = await t.throwsAsync(open(b, await entryFor('p', ['a'], ct)), { instanceOf: SecretError });
  t.is(err?.code, 'corrupt');
  t.regex(err!.message, /not a pal sealed payload/);
  const unencrypted = await openpgp.createMessage({
    binary: encodePayload({ name: 'p', labels: ['a'] }, Buffer.from('x')),
  });
  const err2 = await t.throwsAsync(open(b, await entryFor('p', ['a'], unencrypted.write() as Uint8Array)), {
    instanceOf: SecretError,
  });
  t.is(err2?.code, 'corrupt', 'an unencrypted OpenPGP message is refused');
});

test('sealed for another key → unavailable, naming the key ids', async (t) => {
  const b = await backend();
  const err = await t.throwsAsync(open(b, await sealed('w', ['a'], Buffer.from('x'), [other.publicKey])), {
    instanceOf: SecretError,
  });
  t.is(err?.code, 'unavailable');
  t.regex(err!.message, /no host key can decrypt/);
});

test('sealed for several keys: any host key decrypts', async (t) => {
  const b = await backend();
  const s = await open(b, await sealed('multi', ['a'], Buffer.from('m'), [other.publicKey, host.publicKey]));
  t.is(s.plaintext.read().toString(), 'm');
});

test('passphrase-protected keys load with the passphrase file; bad key files are reported, others load', async (t) => {
  const kdir = path.join(dir, 'keys-pass');
  await mkdir(kdir);
  const locked = await keyPair('locked', 'correct horse');
  await writeFile(path.join(kdir, 'locked.key'), locked.privateKey, { mode: 0o600 });
  await writeFile(path.join(kdir, 'host.key'), host.privateKey, { mode: 0o600 });
  await writeFile(path.join(kdir, 'garbage.key'), 'not a key', { mode: 0o600 });
  await writeFile(path.join(kdir, 'ignored.pub.asc'), locked.publicKey);
  await writeFile(path.join(dir, 'pass'), 'correct horse\n', { mode: 0o600 });

  const noPass = await OpenPgpBackend.load(kdir, { allocSecure: new FakeSecureMemory().from });
  t.is(noPass.keyIds().length, 1);
  t.deepEqual(
    noPass
      .problems()
      .map((p) => path.basename(p.file))
      .sort(),
    ['garbage.key', 'locked.key'],
  );

  const b = await OpenPgpBackend.load(kdir, {
    allocSecure: new FakeSecureMemory().from,
    passphraseFile: path.join(dir, 'pass'),
  });
  t.is(b.keyIds().length, 2);
  t.deepEqual(
    b.problems().map((p) => path.basename(p.file)),
    ['garbage.key'],
  );
  const s = await open(b, await sealed('locked-secret', ['a'], Buffer.from('L'), [locked.publicKey]));
  t.is(s.plaintext.read().toString(), 'L');

  await writeFile(path.join(dir, 'pass'), 'wrong\n');
  await b.reloadKeys();
  t.is(b.keyIds().length, 1);
  t.true(b.problems().some((p) => p.file.endsWith('locked.key')));
});

test('with watch: a key dropped into the keys dir (by rename) is loaded without SIGHUP', async (t) => {
  const kdir = path.join(dir, 'keys-watch');
  await mkdir(kdir);
  await writeFile(path.join(kdir, 'host.key'), host.privateKey, { mode: 0o600 });
  const b = await OpenPgpBackend.load(kdir, { allocSecure: new FakeSecureMemory().from, watch: true });
  t.teardown(() => b.close());
  t.is(b.keyIds().length, 1);
  await writeFile(path.join(kdir, '.other.tmp'), other.privateKey, { mode: 0o600 });
  const { rename } = await import('node:fs/promises');
  await rename(path.join(kdir, '.other.tmp'), path.join(kdir, 'other.key'));
  await waitFor('the new key to load', () => b.keyIds().length === 2, { timeoutMs: 10_000, intervalMs: 5 });
  const s = await open(b, await sealed('for-other', ['a'], Buffer.from('o'), [other.publicKey]));
  t.is(s.plaintext.read().toString(), 'o');
});

// ---- SecretCache ----

class CountingBackend implements Backend {
  readonly name = 'openpgp' as const;
  decrypts = 0;
  constructor(private readonly inner: Backend) {}
  async decrypt(entry: ManifestEntry, ct: Uint8Array): Promise<OpenedSecret> {
    this.decrypts++;
    return this.inner.decrypt(entry, ct);
  }
}

const tick = () => new Promise((r) => setImmediate(r));

test('single flight: 20 concurrent get() decrypt once and share the buffer', async (t) => {
  const counting = new CountingBackend(await backend());
  const cache = new SecretCache({ openpgp: counting }, { ttlMs: 60_000, maxBytes: 1 << 20 });
  t.teardown(() => cache.close());
  const e = await sealed('sf', ['a'], Buffer.from('shared'));
  const results = await Promise.all(Array.from({ length: 20 }, () => cache.get(e)));
  t.is(counting.decrypts, 1);
  t.true(results.every((r) => r === results[0]));
  t.is(results[0]!.plaintext.read().toString(), 'shared');
  await cache.get(e);
  t.is(counting.decrypts, 1, 'a later get is a cache hit');
  t.deepEqual({ entries: cache.stats().entries, bytes: cache.stats().bytes }, { entries: 1, bytes: 6 });
});

test('checkout() hands out a clone the caller owns', async (t) => {
  const mem = new FakeSecureMemory();
  const cache = new SecretCache({ openpgp: await backend(mem) }, { ttlMs: 60_000, maxBytes: 1 << 20 });
  t.teardown(() => cache.close());
  const e = await sealed('co', ['a'], Buffer.from('clone me'));
  const mine = await cache.checkout(e);
  cache.invalidate();
  await tick();
  t.true(mine.plaintext.alive);
  t.is(mine.plaintext.read().toString(), 'clone me');
  mine.plaintext.wipe();
});

test('TTL expiry wipes the buffer and decrypts again', async (t) => {
  let now = 1000;
  const mem = new FakeSecureMemory();
  const counting = new CountingBackend(await backend(mem));
  const cache = new SecretCache(
    { openpgp: counting },
    { ttlMs: 500, maxBytes: 1 << 20, now: () => now, sweepIntervalMs: 0 },
  );
  t.teardown(() => cache.close());
  const e = await sealed('ttl', ['a'], Buffer.from('ephemeral'));
  const first = await cache.get(e);
  now += 499;
  t.is(await cache.get(e), first);
  now += 1;
  t.is(cache.sweep(), 1);
  await tick();
  t.false(first.plaintext.alive);
  t.true(
    mem.allocated[0]!.memory.every((b) => b === 0),
    'evicted plaintext zeroed',
  );
  const second = await cache.get(e);
  t.is(counting.decrypts, 2);
  t.is(second.plaintext.read().toString(), 'ephemeral');
});

test('max bytes: least recently used secrets are evicted and wiped', async (t) => {
  const mem = new FakeSecureMemory();
  const cache = new SecretCache({ openpgp: await backend(mem) }, { ttlMs: 60_000, maxBytes: 10, sweepIntervalMs: 0 });
  t.teardown(() => cache.close());
  const a = await sealed('a', ['l'], Buffer.from('aaaa'));
  const b = await sealed('b', ['l'], Buffer.from('bbbb'));
  const c = await sealed('c', ['l'], Buffer.from('cccc'));
  const sa = await cache.get(a);
  const sb = await cache.get(b);
  await cache.get(a); // a is now most recently used
  await cache.get(c); // 12 bytes > 10: evict b
  await tick();
  t.true(sa.plaintext.alive);
  t.false(sb.plaintext.alive);
  t.deepEqual({ entries: cache.stats().entries, bytes: cache.stats().bytes }, { entries: 2, bytes: 8 });
});

test('a secret larger than maxBytes is served once and wiped, not cached', async (t) => {
  const cache = new SecretCache({ openpgp: await backend() }, { ttlMs: 60_000, maxBytes: 4, sweepIntervalMs: 0 });
  t.teardown(() => cache.close());
  const s = await cache.get(await sealed('big', ['l'], Buffer.from('0123456789')));
  t.is(s.plaintext.read().toString(), '0123456789');
  await tick();
  t.false(s.plaintext.alive);
  t.is(cache.stats().entries, 0);
});

test('a new ciphertext version invalidates the cached plaintext', async (t) => {
  const counting = new CountingBackend(await backend());
  const cache = new SecretCache({ openpgp: counting }, { ttlMs: 60_000, maxBytes: 1 << 20, sweepIntervalMs: 0 });
  t.teardown(() => cache.close());
  const v1 = await sealed('rot', ['a'], Buffer.from('v1'));
  const s1 = await cache.get(v1);
  const v2 = await sealed('rot', ['a'], Buffer.from('v2'));
  t.not(v1.version, v2.version);
  const s2 = await cache.get(v2);
  t.is(s2.plaintext.read().toString(), 'v2');
  await tick();
  t.false(s1.plaintext.alive);
  t.is(counting.decrypts, 2);
});

test('sealed name must match the manifest entry (no renaming without re-sealing)', async (t) => {
  const mem = new FakeSecureMemory();
  const cache = new SecretCache(
    { openpgp: await backend(mem) },
    { ttlMs: 60_000, maxBytes: 1 << 20, sweepIntervalMs: 0 },
  );
  t.teardown(() => cache.close());
  const e = await sealed('real-name', ['a'], Buffer.from('x'));
  const err = await t.throwsAsync(cache.get({ ...e, name: 'other-name' }), { instanceOf: SecretError });
  t.is(err?.code, 'name-mismatch');
  t.is(mem.live(), 0, 'the decrypted plaintext was wiped');
});

test('corrupt ciphertext fails that secret only; missing backend → unavailable', async (t) => {
  const cache = new SecretCache({ openpgp: await backend() }, { ttlMs: 60_000, maxBytes: 1 << 20, sweepIntervalMs: 0 });
  t.teardown(() => cache.close());
  const good = await sealed('good', ['a'], Buffer.from('ok'));
  const bad = await entryFor('bad', ['a'], garbage(200));
  const [r1, r2] = await Promise.allSettled([cache.get(good), cache.get(bad)]);
  t.is(r1.status, 'fulfilled');
  t.is(r2.status === 'rejected' ? (r2.reason as SecretError).code : 'none', 'corrupt');
  const ro = await t.throwsAsync(cache.get({ ...good, name: 'ro', backend: 'redoctober' }), {
    instanceOf: SecretError,
  });
  t.is(ro?.code, 'unavailable');
  await t.throwsAsync(cache.get(bad), { instanceOf: SecretError }, 'failures are not cached as successes');
});

test('close() wipes everything', async (t) => {
  const mem = new FakeSecureMemory();
  const cache = new SecretCache({ openpgp: await backend(mem) }, { ttlMs: 60_000, maxBytes: 1 << 20 });
  await cache.get(await sealed('c1', ['a'], Buffer.from('1')));
  await cache.get(await sealed('c2', ['a'], Buffer.from('2')));
  cache.close();
  t.is(mem.live(), 0);
  await t.throwsAsync(cache.get(await sealed('c3', ['a'], Buffer.from('3'))), { instanceOf: SecretError });
});
