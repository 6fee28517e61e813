import test from 'ava';
import { createHash, generateKeyPairSync, sign, constants } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canonicalKeyId, keyId, KeyError, verifySignature, type TufPublicKey } from '../../../src/trust/notary/keys.js';
import { generateKey, generateX509Key, type CraftKey } from '../../helpers/notary-craft.js';

let dir: string;
test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pal-keys-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

const pub = (k: CraftKey): TufPublicKey => ({ keytype: k.entry.keytype, public: k.entry.keyval.public });
const data = Buffer.from('{"_type":"Targets"}');

test('key id is sha256 of the canonical key with private:null', (t) => {
  const key = { keytype: 'ed25519', public: 'AAAA' };
  const expected = createHash('sha256')
    .update('{"keytype":"ed25519","keyval":{"private":null,"public":"AAAA"}}')
    .digest('hex');
  t.is(keyId(key), expected);
  t.is(canonicalKeyId(key), expected);
});

test('x509 keys: the canonical id is the id of the bare SPKI key, the listed id is the certificate id', async (t) => {
  for (const type of ['ecdsa-x509', 'rsa-x509'] as const) {
    const k = await generateX509Key(type, dir, 'docker.io/library/x');
    const cert = new (await import('node:crypto')).X509Certificate(Buffer.from(k.entry.keyval.public, 'base64'));
    const spki = cert.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    t.is(keyId(pub(k)), k.id);
    t.is(canonicalKeyId(pub(k)), keyId({ keytype: type.replace('-x509', ''), public: spki }));
    t.not(canonicalKeyId(pub(k)), k.id);
  }
});

test('signatures verify for every key type Notary uses, and fail on other data', async (t) => {
  const keys = [
    generateKey('ecdsa'),
    generateKey('ed25519'),
    generateKey('rsa'),
    await generateX509Key('ecdsa-x509', dir, 'a'),
    await generateX509Key('rsa-x509', dir, 'b'),
  ];
  for (const k of keys) {
    const sig = k.sign(data);
    t.true(verifySignature(pub(k), k.method, sig, data), k.entry.keytype);
    t.true(verifySignature(pub(k), k.method.toUpperCase(), sig, data), 'method is case-insensitive');
    t.false(verifySignature(pub(k), k.method, sig, Buffer.from('{"_type":"Root"}')), k.entry.keytype);
  }
});

test('ecdsa signatures must be raw r||s (a DER signature does not verify)', (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const key = { keytype: 'ecdsa', public: publicKey.export({ type: 'spki', format: 'der' }).toString('base64') };
  const der = sign('sha256', data, privateKey);
  t.false(verifySignature(key, 'ecdsa', der, data));
  t.true(verifySignature(key, 'ecdsa', sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }), data));
});

test('rsa accepts PKCS#1 v1.5 as the Go client does', (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = { keytype: 'rsa', public: publicKey.export({ type: 'spki', format: 'der' }).toString('base64') };
  const sig = sign('sha256', data, { key: privateKey, padding: constants.RSA_PKCS1_PADDING });
  t.true(verifySignature(key, 'rsapkcs1v15', sig, data));
  t.false(verifySignature(key, 'rsapss', sig, data));
});

test('mismatched method and key type, unknown types and garbage keys are KeyErrors', (t) => {
  const ec = generateKey('ecdsa');
  const ed = generateKey('ed25519');
  t.throws(() => verifySignature(pub(ec), 'eddsa', Buffer.alloc(64), data), { instanceOf: KeyError });
  t.throws(() => verifySignature(pub(ed), 'ecdsa', Buffer.alloc(64), data), { instanceOf: KeyError });
  t.throws(() => verifySignature(pub(ec), 'hmac', Buffer.alloc(64), data), {
    instanceOf: KeyError,
    message: /unsupported signature method/,
  });
  t.throws(() => verifySignature({ keytype: 'dsa', public: 'AAAA' }, 'ecdsa', Buffer.alloc(64), data), {
    instanceOf: KeyError,
  });
  t.throws(() => verifySignature({ keytype: 'ecdsa', public: 'AAAA' }, 'ecdsa', Buffer.alloc(64), data), {
    instanceOf: KeyError,
  });
  t.throws(() => verifySignature({ keytype: 'ed25519', public: 'AAAA' }, 'eddsa', Buffer.alloc(64), data), {
    instanceOf: KeyError,
  });
  t.throws(() => canonicalKeyId({ keytype: 'ecdsa-x509', public: 'AAAA' }), { instanceOf: KeyError });
  t.false(verifySignature(pub(ed), 'eddsa', Buffer.alloc(10), data), 'short signature');
});
