// Defects the fuzz harness (test/fuzz, `npm run fuzz`) found beyond issue 21, each pinned with its
// reproducer: hostile input is an error of ours with a reason, never a crash or seconds of CPU.
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as openpgp from 'openpgp';
import { parseAdminRequest } from '../../../src/daemon/admin-protocol.js';
import { upsertManifestEntryText } from '../../../src/store/index.js';
import { canonicalKeyId, KeyError } from '../../../src/trust/notary/keys.js';
import { OpenPgpBackend, SecretError, sealOpenPgp } from '../../../src/crypto/index.js';
import type { ManifestEntry } from '../../../src/store/index.js';
import { FakeSecureMemory } from './fake-secure.js';

test('admin: a deeply nested "op" within the request limit is refused with a reason, not a RangeError', (t) => {
  const line = '{"op":' + '['.repeat(32000) + ']'.repeat(32000) + '}';
  t.true(line.length < 64 * 1024);
  const r = parseAdminRequest(line);
  t.deepEqual(r, { error: 'unknown op (op must be a string, got an array)' });
  t.deepEqual(parseAdminRequest(JSON.stringify({ op: 'x'.repeat(1000) })), {
    error: `unknown op ${JSON.stringify('x'.repeat(64))}`,
  });
});

test("manifest editor: an alias to no anchor is our error with a reason, the library's never escapes", (t) => {
  const err = t.throws(() =>
    upsertManifestEntryText('secrets:\n  a: *b\n', { name: 's', file: 's.pgp', labels: ['a'], mode: 0o400 }),
  );
  t.is(err?.constructor, Error);
  t.regex(err.message, /^the manifest cannot be rewritten: .*alias/i);
});

test('canonicalKeyId: a certificate whose public key does not decode is a KeyError', (t) => {
  // The fuzzer's reproducer: a real certificate with a few bytes of its key changed; it parses,
  // but OpenSSL cannot decode its public key.
  const key = { keytype: 'rsa-x509', public: BROKEN_KEY_CERT_B64 };
  const err = t.throws(() => canonicalKeyId(key as never));
  t.true(err instanceof KeyError, `${err?.constructor.name}: ${err?.message}`);
});

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
  t.regex(err.message, /500 session key packets name this host's keys/);
  // The message as sealed still opens.
  t.is((await backend.decrypt(entry(sealed), sealed)).plaintext.read().toString(), 'hunter2');
});

const BROKEN_KEY_CERT_B64 =
  'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUROekNDQWgrZ0F3SUJBZ0lVUnN0cnRYck9WcDIwclozL29QY3R4VUlYblljd0RRWUpLb1pJaHZjTkFRRUwKQlFBd0t6RXBNQ2NHQTFVRUF3d2djbVZuYVhOMGNua3VaWGhoYlhCc1pTNWpiMjB2WW1sc2JHbHVaeTloY0hBdwpIaGNOTWpZeE1qQXhNRGN5TVRFeFdoY05Nall4TWpNeE1EY3lNVEV4V2pBck1Ta3dKd1lEVlFRRERDQnlaV2RwCmMzUnllUzVsZUdGdGNHeGxMbU52YlM5aWFXeHNhVzVuTDJGd2NEQ0NBU0l3RFFZSktvWklodmNOQVFFQkJRQUQKZ2dFUEFEQ0NBUW9DZ2djQkFLVEp1czZqdmdPbGs5Z0hoRldiZy9FRzN6c016a1lmaXJUQmhsdGpYMzZKR1dTNApEYVBrZk5vS29jSDI0cTNxOVRhVlJWZEoyR0JuT1dLOXliUU9WamZ1dDhFUHY1R0VIbktweGhWUUtKMTdHM2VCCjZOZVpYOTA5OU5PakdTYkt0dWhlZUZkQjRlY0xXaENsbXV6d1BBTUt1V2dTNElHeWlheFJMNEVBRitZN1krSXYKMUFqT1RRZGR2Q2g4TlZGZEVpQlJ2SGJQK1NEcXVMa1pCcGkrcjhUeVRlWEFiMjQ5ci9HZUdFOGJTdlNUb2FyUQpOV3ViY2R5dmhvemhtRHIycVdidENkL0tLWC96WWxVSWUvZnRvMzRjTCtiUktycHo0a1l3b0QvcHJ4VkNKY0VpCmZLdG5vVWRiK2toWmxYcE16dHVudDgwK3ltRzVUUGtQaERnUjdKMENBd0VBQWFOVE1GRXdIUVlEVlIwT0JCWUUKRkJYU0ZMVS9sUzI3cnBMYXd1d0tJVnZWS0FUMU1COEdBMVVkSXdRWU1CYUFGQlhTRkxVL2xTMjdycExhd3V3SwpJVnZWS0FUMU1BOEdBMVVkRXdFQi93UUZNQU1CQWY4d0RRWUpLb1pJaHZjTkFRRUxCUUFEZ2dFQkFFUE1CanVCCmVaU0x6aUZkaWI1emREa3c1ekVNcUxMUHVsZzZkQ1pnM0NqektITGRjWGxhVk1ySklaUkxMQmRkZzJwa3VDUkUKV0FtZU9KaGR4UDgycjhHUmFHMC9jTmE5YUFkRUdGUFJJalZIYjVUVXRkRHpYdFUwSzdYRlUxQ0c4M2lOMTlqRQpsbTdiNjd4ejRSQ015N3NkUDBTMURRekZBRjc2N3hQMkp1U2d1QnZPMVlkTUJXck9JTnc5TTUyVTZXWUZNYjArCjgxaDNSUmJvdW1ma0FyZVhjZ2wwRDZPbk12cldUM252WThoRnFWdHJCdU1tdk9Tak5lYlRxWnJ1S2xEK0hWaHgKTndPUzh0T2x5c24rMFcvM0poWDhPbUVZRXh3THFXYjg2QUprcEtUL1pSWDhnRlB5TEVZVm9KeUovcWdUakxSRgp5dnR5ZTNpc2ljQ3gvM0k9Ci0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K';
