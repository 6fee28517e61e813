// Red October: the ciphertext read before decryption, the replies, the HTTPS client, and the cache
// authorising before it decrypts. Every input here is hostile: a bad one is an error, never a crash.
import test from 'ava';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SecretCache, SecretError, type Backend } from '../../../src/crypto/index.js';
import {
  NAME_LABEL_PREFIX,
  palRoSizeBound,
  parseEnvelope,
  sealLabels,
} from '../../../src/crypto/redoctober/envelope.js';
import { decodePalRoValue } from '../../../src/crypto/pal-payload.js';
import { decryptedData, decryptFailure } from '../../../src/crypto/redoctober/replies.js';
import { parseReply, RoClient, RoTransportError } from '../../../src/crypto/redoctober/client.js';
import type { ManifestEntry } from '../../../src/store/index.js';
import { runCommand } from '../../helpers/pald.js';
import { FakeSecureMemory } from '../../helpers/fake-secure.js';

const b64 = (v: string | Buffer) => Buffer.from(v).toString('base64');

function ciphertext(inner: Record<string, unknown>, outer: Record<string, unknown> = {}): Buffer {
  const locked = { Version: -1, Data: b64(JSON.stringify(inner)), Signature: b64('sig'), ...outer };
  return Buffer.from(b64(JSON.stringify(locked)) + '\n');
}

const goodInner = (over: Record<string, unknown> = {}) => ({
  Version: 1,
  VaultId: 7,
  Labels: sealLabels('pay', ['billing', 'eu']),
  KeySet: [
    { Name: ['alice', 'bob'], Key: b64('k') },
    { Name: ['alice', 'carol'], Key: b64('k') },
    { Name: ['bob', 'carol'], Key: b64('k') },
  ],
  KeySetRSA: { alice: { Key: b64('a') }, bob: { Key: b64('b') }, carol: { Key: b64('c') } },
  IV: b64('iv'),
  Data: b64('data'),
  ...over,
});

test('the envelope gives the sealed name, labels, owners and minimum before decryption', (t) => {
  const env = parseEnvelope(ciphertext(goodInner()));
  t.deepEqual(env, {
    sealedName: 'pay',
    sealedLabels: ['billing', 'eu'],
    owners: ['alice', 'bob', 'carol'],
    minimum: 2,
  });
});

test('a Cloudflare PAL ro: envelope: Red October labels in clear, no name label, served under the entry name', (t) => {
  const pal = ciphertext(goodInner({ Labels: ['eu', 'billing', 'eu'] }));
  t.throws(() => parseEnvelope(pal), { message: /no sealed pal name/ });
  t.deepEqual(parseEnvelope(pal, 'DB_PASSWORD'), {
    sealedName: 'DB_PASSWORD',
    sealedLabels: ['billing', 'eu'],
    owners: ['alice', 'bob', 'carol'],
    minimum: 2,
  });
  const cases: [Buffer, RegExp][] = [
    [ciphertext(goodInner()), /pal name label in a PAL ro: value/],
    [ciphertext(goodInner({ Labels: [] })), /no sealed labels/],
    [ciphertext(goodInner({ Labels: undefined })), /no sealed labels/],
    [ciphertext(goodInner({ Labels: ['Bad Label!'] })), /sealed label/],
    [ciphertext(goodInner({ Labels: 'billing' })), /not a list of labels/],
    [ciphertext(goodInner({ Labels: [7] })), /non-string/],
  ];
  for (const [ct, message] of cases) t.throws(() => parseEnvelope(ct, 'DB_PASSWORD'), { message });
});

test('a PAL ro: value size bound: the encrypted data less one padding byte, 3/4 of it for ro+base64:', (t) => {
  const ct = ciphertext(goodInner({ Data: b64(Buffer.alloc(48)) }));
  t.is(palRoSizeBound(ct, false), 47);
  t.is(palRoSizeBound(ct, true), 35);
  t.throws(() => palRoSizeBound(ciphertext(goodInner({ Data: 5 })), false), { message: /not a string/ });
});

test('a PAL ro: value is the plaintext itself; ro+base64: is decoded once more (Go StdEncoding)', (t) => {
  t.is(decodePalRoValue(Buffer.from('s3cret'), false, 64).toString(), 's3cret');
  t.is(decodePalRoValue(Buffer.from(b64('s3cret\x00bin')), true, 64).toString(), 's3cret\x00bin');
  t.is(decodePalRoValue(Buffer.from('czNj\ncmV0'), true, 64).toString(), 's3cret');
  t.throws(() => decodePalRoValue(Buffer.from('not base64!'), true, 64), {
    message: /ro\+base64: value is not base64/,
  });
  t.throws(() => decodePalRoValue(Buffer.from('czNjcmV0'), true, 5), { message: /larger than limits.secret_bytes/ });
  t.throws(() => decodePalRoValue(Buffer.from('s3cret'), false, 5), { message: /larger than limits.secret_bytes/ });
});

test('hostile envelopes are refused with a reason, never a crash', (t) => {
  const cases: [Buffer, RegExp][] = [
    [Buffer.from('not base64 at all!'), /not base64/],
    [Buffer.from(b64('not json')), /not JSON/],
    [Buffer.from(b64('[1,2]')), /not a JSON object/],
    [ciphertext(goodInner(), { Version: 1 }), /unsupported ciphertext version/],
    [ciphertext(goodInner(), { Data: 'zz zz' }), /not base64/],
    [ciphertext(goodInner(), { Signature: 5 }), /signature is not a string/],
    [ciphertext(goodInner({ Version: 2 })), /unsupported inner version/],
    [ciphertext(goodInner({ Labels: ['billing'] })), /no sealed pal name/],
    [ciphertext(goodInner({ Labels: sealLabels('pay', []) })), /no sealed labels/],
    [ciphertext(goodInner({ Labels: [...sealLabels('pay', ['a']), `${NAME_LABEL_PREFIX}other`] })), /more than one/],
    [ciphertext(goodInner({ Labels: sealLabels('../x', ['a']) })), /not a valid secret name/],
    [ciphertext(goodInner({ Labels: sealLabels('pay', ['Billing']) })), /upper case/],
    [ciphertext(goodInner({ Labels: 'billing' })), /not a list/],
    [ciphertext(goodInner({ Labels: [1] })), /non-string/],
    [ciphertext(goodInner({ Predicate: '(a & b)' })), /predicate/],
    [ciphertext(goodInner({ KeySetRSA: [] })), /KeySetRSA/],
    [ciphertext(goodInner({ KeySetRSA: {} })), /0 owners/],
    [ciphertext(goodInner({ KeySetRSA: { ['x'.repeat(200)]: {} } })), /owner name/],
    [ciphertext(goodInner({ KeySet: [] })), /KeySet/],
    [ciphertext(goodInner({ KeySet: [{ Name: ['alice', 'mallory'] }] })), /non-owner/],
    [ciphertext(goodInner({ KeySet: [{ Name: ['alice'] }, { Name: ['alice', 'bob'] }] })), /disagree/],
    [ciphertext(goodInner({ KeySet: [null] })), /no names/],
  ];
  for (const [input, why] of cases) t.throws(() => parseEnvelope(input), { message: why }, why.source);
});

test('a failed /decrypt maps to EACCES with the missing delegations, or to EIO', (t) => {
  const env = parseEnvelope(ciphertext(goodInner()));
  const denied = decryptFailure('pay', 'need more delegated keys', env, 'host1');
  t.is(denied.code, 'denied-by-backend');
  t.regex(denied.message, /needs 2 more delegations from alice, bob, carol \(to user host1, label billing, eu\)/);
  t.is(decryptFailure('pay', 'Failed to decrypt with all keys in keyset', env, 'host1').code, 'denied-by-backend');
  t.is(decryptFailure('pay', 'Signature mismatch', env, 'host1').code, 'corrupt');
  t.is(decryptFailure('pay', 'Wrong vault', env, 'host1').code, 'corrupt');
  const wrong = decryptFailure('pay', 'Wrong Password', env, 'host1');
  t.is(wrong.code, 'unavailable');
  t.regex(decryptFailure('pay', 'x'.repeat(5000), env, 'host1').message, /^.{0,400}$/s);
});

test('a /decrypt reply is checked field by field', (t) => {
  const reply = (response: unknown) => ({ status: 'ok', body: { Status: 'ok', Response: response } });
  const inner = (o: Record<string, unknown>) => b64(JSON.stringify(o));
  const ok = decryptedData('pay', reply(inner({ Data: b64('hello'), Secure: true, Delegates: ['alice', 'bob'] })));
  t.is(ok.data.toString(), 'hello');
  t.deepEqual(ok.delegates, ['alice', 'bob']);
  const hostile: unknown[] = [
    undefined,
    42,
    'not base64!',
    b64('not json'),
    inner({ Data: b64('x'), Secure: false }),
    inner({ Secure: true }),
    inner({ Data: 'x y', Secure: true }),
    inner({ Data: b64('x'), Secure: true, Delegates: 'alice' }),
    inner({ Data: b64('x'), Secure: true, Delegates: [1] }),
  ];
  for (const r of hostile) {
    const err = t.throws(() => decryptedData('pay', reply(r)));
    t.true(err instanceof SecretError && err.code === 'corrupt', String(r));
  }
});

test('a reply without a JSON object and a string Status is a transport error', (t) => {
  t.is(parseReply(Buffer.from('{"Status":"ok"}')).status, 'ok');
  for (const body of ['', 'nope', '[]', '{"Status":1}', '{}', JSON.stringify({ Status: 'x'.repeat(2000) })])
    t.throws(() => parseReply(Buffer.from(body)), { instanceOf: RoTransportError });
});

/** A TLS server answering with `handler`; its self-signed certificate is the pinned CA. */
async function tlsServer(
  t: { teardown(fn: () => Promise<void>): void },
  handler: Parameters<typeof createServer>[1],
): Promise<{ url: string; ca: Buffer; otherCa: Buffer }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pal-ro-unit-'));
  const cert = async (name: string) => {
    const r = await runCommand('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
      '-nodes', '-keyout', `${dir}/${name}.key`, '-out', `${dir}/${name}.crt`, '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1']); // prettier-ignore
    if (r.code !== 0) throw new Error(r.stderr);
    return { key: await readFile(`${dir}/${name}.key`), cert: await readFile(`${dir}/${name}.crt`) };
  };
  const [mine, other] = await Promise.all([cert('server'), cert('other')]);
  const server: Server = createServer({ key: mine.key, cert: mine.cert }, handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });
  const port = (server.address() as { port: number }).port;
  return { url: `https://127.0.0.1:${port}`, ca: mine.cert, otherCa: other.cert };
}

test('the client pins the CA, bounds reply size and time, and does not retry what reached the server', async (t) => {
  let calls = 0;
  const srv = await tlsServer(t, (req, res) => {
    calls++;
    if (req.url === '/big') res.end(JSON.stringify({ Status: 'ok', Response: 'x'.repeat(10_000) }));
    else if (req.url === '/slow') setTimeout(() => res.end('{"Status":"ok"}'), 30_000).unref();
    else if (req.url === '/500') res.writeHead(500).end();
    else res.end('{"Status":"ok","Response":"fine"}');
  });
  // Only the slow call gets a short deadline: a loaded CI machine can take longer than that for a TLS handshake.
  const client = new RoClient({
    server: srv.url,
    ca: srv.ca,
    maxResponseBytes: 1000,
    timeoutMs: 30_000,
    retryDelayMs: 1,
  });
  const impatient = new RoClient({
    server: srv.url,
    ca: srv.ca,
    maxResponseBytes: 1000,
    timeoutMs: 2_000,
    retryDelayMs: 1,
  });
  t.is((await client.call('/decrypt', {})).body['Response'], 'fine');
  await t.throwsAsync(client.call('/big', {}), { message: /larger than 1000/ });
  calls = 0;
  await t.throwsAsync(impatient.call('/slow', {}), { message: /within 2000 ms/ });
  t.is(calls, 1, 'a request the server received is not sent again');
  await t.throwsAsync(client.call('/500', {}), { message: /HTTP 500/ });
  const untrusting = new RoClient({ server: srv.url, ca: srv.otherCa, maxResponseBytes: 1000, retryDelayMs: 1 });
  await t.throwsAsync(untrusting.call('/decrypt', {}), { instanceOf: RoTransportError });
  t.throws(() => new RoClient({ server: 'http://127.0.0.1:1', ca: srv.ca, maxResponseBytes: 1 }), { message: /https/ });
});

/** A backend that reads its header in clear (as Red October does) and counts decrypts. */
function clearHeaderBackend(mem: FakeSecureMemory, counter: { decrypts: number }): Backend {
  return {
    name: 'redoctober',
    sealedBeforeDecrypt: (entry) => ({ sealedName: entry.name, sealedLabels: ['billing'] }),
    async decrypt(entry, ct) {
      counter.decrypts++;
      return { plaintext: mem.from(Uint8Array.from(ct)), sealedName: entry.name, sealedLabels: ['billing'] };
    },
  };
}

test('the cache authorises with the clear header before decrypting; cache: 0 decrypts at every open', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'pal-ro-cache-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ciphertextPath = path.join(dir, 'pay.ro');
  await writeFile(ciphertextPath, 'value');
  const entry = (cacheTtlMs?: number): ManifestEntry => ({
    name: 'pay',
    labels: ['billing'],
    mode: 0o400,
    backend: 'redoctober',
    ciphertextPath,
    version: createHash('sha256').update('value').digest('hex'),
    mtimeMs: 0,
    ...(cacheTtlMs === undefined ? {} : { cacheTtlMs }),
  });
  const counter = { decrypts: 0 };
  const mem = new FakeSecureMemory();
  const cache = new SecretCache(
    { redoctober: clearHeaderBackend(mem, counter) },
    { ttlMs: 60_000, maxBytes: 1 << 20, sweepIntervalMs: 0 },
  );
  t.teardown(() => cache.close());
  const seen: string[][] = [];
  const refuse = (h: { sealedLabels: readonly string[] }) => {
    seen.push([...h.sealedLabels]);
    throw new SecretError('denied-before-decrypt', 'missing label billing');
  };
  await t.throwsAsync(cache.get(entry(0), refuse), { message: /missing label/ });
  t.deepEqual(seen, [['billing']]);
  await t.throwsAsync(cache.get(entry(0)), { message: /no caller to authorise/ });
  t.is(counter.decrypts, 0, 'a refused caller spends nothing');
  for (let i = 0; i < 3; i++) await cache.get(entry(0), () => {});
  t.is(counter.decrypts, 3, 'cache: 0 → one decrypt per open');
  for (let i = 0; i < 3; i++) await cache.get(entry(), () => {});
  t.is(counter.decrypts, 4, 'the default TTL → one decrypt per miss');
});
