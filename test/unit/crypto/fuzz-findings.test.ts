// Defects the fuzz harness (test/fuzz, `npm run fuzz`) found beyond issue 21, each pinned with its
// reproducer: hostile input is an error of ours with a reason, never a crash or seconds of CPU.
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as openpgp from 'openpgp';
import { OpenPgpBackend, SecretError, sealOpenPgp } from '../../../src/crypto/index.js';
import type { ManifestEntry } from '../../../src/store/index.js';
import { FakeSecureMemory } from '../../helpers/fake-secure.js';

test('openpgp: a message repeating the session key packet for this host is corrupt before any private-key work', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'pal-pkesk-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const keys = path.join(dir, 'keys');
  await mkdir(keys, { mode: 0o700 });
  const host = await openpgp.generateKey({ userIDs: [{ name: 'host' }], format: 'armored' });
  await writeFile(path.join(keys, 'host.key'), host.privateKey, { mode: 0o600 });
  const backend = await OpenPgpBackend.load(keys, { allocSecure: new FakeSecureMemory().from });
  t.teardown(() => backend.close());
  const sealed = await sealOpenPgp({
    name: 'db',
    labels: ['a'],
    plaintext: Buffer.from('hunter2'),
    publicKeysArmored: [host.publicKey],
  });
  const entry = (ct: Uint8Array): ManifestEntry => ({
    name: 'db',
    labels: ['a'],
    mode: 0o400,
    backend: 'openpgp',
    ciphertextPath: '/nonexistent',
    version: createHash('sha256').update(ct).digest('hex'),
    mtimeMs: 0,
  });
  // New-format PKESK with a one-octet length (what sealOpenPgp writes), repeated 500 times.
  t.is(sealed[0], 0xc1);
  const len = sealed[1]! + 2;
  const repeated = new Uint8Array(
    Buffer.concat([...Array.from({ length: 500 }, () => sealed.subarray(0, len)), sealed.subarray(len)]),
  );
  const err = await t.throwsAsync(backend.decrypt(entry(repeated), repeated), { instanceOf: SecretError });
  t.is(err?.code, 'corrupt');
  t.regex(err!.message, /500 session key packets name this host's keys/);
  // The message as sealed still opens.
  t.is((await backend.decrypt(entry(sealed), sealed)).plaintext.read().toString(), 'hunter2');
});
