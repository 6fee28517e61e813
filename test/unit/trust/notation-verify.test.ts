// Notation envelope verification against openssl-made certificates and node:crypto signatures.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { verifyEnvelope, type VerifyOptions } from '../../../src/trust/notation/verify.js';
import { identityProblem, parseTrustedIdentity, type TrustedIdentity } from '../../../src/shared/x509-identity.js';
import { NotationError } from '../../../src/trust/notation/types.js';
import {
  issue,
  makeCoseEnvelope,
  makeJwsEnvelope,
  type Issued,
  type TargetArtifact,
} from '../../helpers/notation-craft.js';
import { decode, encode, Tagged } from 'cborg';

const run = promisify(execFile);
const JWS = 'application/jose+json';
let dir: string;
let root: Issued;
let intermediate: Issued;
let leaf: Issued;
let otherRoot: Issued;
let otherLeaf: Issued;

const target: TargetArtifact = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: 'sha256:' + 'ab'.repeat(32),
  size: 1234,
  annotations: { 'pal.labels': 'billing,db' },
};

function identity(text: string): TrustedIdentity {
  return parseTrustedIdentity(text);
}

function opts(over: Partial<VerifyOptions> = {}): VerifyOptions {
  return {
    trustStore: [root.der],
    identities: [identity('x509.subject: C=US, O=Acme, CN=billing-release')],
    now: Date.now(),
    ...over,
  };
}

function refused(t: import('ava').ExecutionContext, envelope: Buffer, o: VerifyOptions, pattern: RegExp): void {
  const e = t.throws(() => verifyEnvelope(JWS, envelope, o), { instanceOf: NotationError });
  t.regex(e.message, pattern);
}

test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pal-notation-'));
  root = await issue(dir, 'root', { subject: '/C=US/O=Acme/CN=Acme Root', profile: 'ca' });
  intermediate = await issue(dir, 'inter', { subject: '/C=US/O=Acme/CN=Acme Signing CA', profile: 'ca', issuer: root });
  leaf = await issue(dir, 'leaf', {
    subject: '/C=US/ST=WA/O=Acme/CN=billing-release',
    profile: 'leaf',
    issuer: intermediate,
  });
  otherRoot = await issue(dir, 'other-root', { subject: '/C=US/O=Acme/CN=Acme Root', profile: 'ca' });
  otherLeaf = await issue(dir, 'other-leaf', {
    subject: '/C=US/ST=WA/O=Acme/CN=billing-release',
    profile: 'leaf',
    issuer: otherRoot,
  });
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a valid ES256 envelope over a three-certificate chain verifies and returns the signed target', (t) => {
  const env = makeJwsEnvelope({ leaf, chain: [leaf, intermediate, root], target });
  const v = verifyEnvelope(JWS, env, opts());
  t.deepEqual(v.target, target);
  t.is(v.signer, 'C=US, ST=WA, O=Acme, CN=billing-release');
  t.true(v.validUntil <= Date.now() + 86400_000);
});

test('openssl agrees: the leaf verifies to the root, and the JWS signature verifies with openssl dgst', async (t) => {
  await run('openssl', ['verify', '-CAfile', root.certFile, '-untrusted', intermediate.certFile, leaf.certFile]);
  const env = JSON.parse(makeJwsEnvelope({ leaf, chain: [leaf, intermediate, root], target }).toString()) as Record<
    string,
    string
  >;
  const input = path.join(dir, 'input');
  const sig = path.join(dir, 'sig.der');
  await writeFile(input, `${env['protected']}.${env['payload']}`);
  // openssl wants DER ECDSA signatures: convert r‖s.
  const raw = Buffer.from(env['signature']!, 'base64url');
  const int = (b: Buffer): Buffer => {
    let v = b;
    while (v.length > 1 && v[0] === 0 && v[1]! < 0x80) v = v.subarray(1);
    return v[0]! >= 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v;
  };
  const r = int(raw.subarray(0, 32));
  const s = int(raw.subarray(32));
  const body = Buffer.concat([Buffer.from([2, r.length]), r, Buffer.from([2, s.length]), s]);
  await writeFile(sig, Buffer.concat([Buffer.from([0x30, body.length]), body]));
  const pub = path.join(dir, 'leaf.pub');
  await run('openssl', ['x509', '-in', leaf.certFile, '-pubkey', '-noout', '-out', pub]);
  const { stdout } = await run('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', sig, input]);
  t.regex(stdout, /Verified OK/);
});

test('RSA keys: PS256 (2048) and PS384 (3072) verify; an algorithm not matching the key is refused', async (t) => {
  for (const [key, alg] of [
    ['rsa2048', 'PS256'],
    ['rsa3072', 'PS384'],
  ] as const) {
    const rsaLeaf = await issue(dir, `leaf-${key}`, {
      subject: '/C=US/O=Acme/CN=billing-release',
      profile: 'leaf',
      issuer: root,
      key,
    });
    const env = makeJwsEnvelope({ leaf: rsaLeaf, chain: [rsaLeaf, root], target });
    t.is(JSON.parse(Buffer.from(JSON.parse(env.toString()).protected, 'base64url').toString()).alg, alg);
    t.notThrows(() => verifyEnvelope(JWS, env, opts()));
  }
  const ec384 = await issue(dir, 'leaf-ec384', {
    subject: '/C=US/O=Acme/CN=billing-release',
    profile: 'leaf',
    issuer: root,
    key: 'ec384',
  });
  t.notThrows(() => verifyEnvelope(JWS, makeJwsEnvelope({ leaf: ec384, chain: [ec384, root], target }), opts()));
  refused(
    t,
    makeJwsEnvelope({ leaf: ec384, chain: [ec384, root], target, alg: 'ES256' }),
    opts(),
    /ES256 does not match .*ES384/,
  );
});

test('a self-signed code-signing certificate in the trust store (as `notation cert generate-test` makes) verifies', async (t) => {
  const selfSigned = await issue(dir, 'generate-test', {
    subject: '/C=US/ST=WA/L=Seattle/O=Notary/CN=billing-release',
    key: 'rsa2048',
    profile: [
      'basicConstraints = critical,CA:FALSE',
      'keyUsage = critical,digitalSignature',
      'extendedKeyUsage = codeSigning',
    ],
  });
  const env = makeJwsEnvelope({ leaf: selfSigned, chain: [selfSigned], target });
  const o = opts({
    trustStore: [selfSigned.der],
    identities: [identity('x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=billing-release')],
  });
  t.is(verifyEnvelope(JWS, env, o).signer, 'C=US, ST=WA, L=Seattle, O=Notary, CN=billing-release');
  refused(t, env, opts(), /is in the trust store/);
});

test('a tampered payload is refused', (t) => {
  const env = makeJwsEnvelope({
    leaf,
    chain: [leaf, intermediate, root],
    target,
    tamperPayload: (p) => ((p['targetArtifact'] as TargetArtifact).annotations = { 'pal.labels': 'admin' }),
  });
  refused(t, env, opts(), /signature does not verify/);
});

test('a chain to another root is refused, even with the same subject names', (t) => {
  const env = makeJwsEnvelope({ leaf: otherLeaf, chain: [otherLeaf, otherRoot], target });
  refused(t, env, opts(), /no certificate of the chain .* is in the trust store/);
  // And a trusted chain with a foreign leaf spliced in does not link.
  refused(
    t,
    makeJwsEnvelope({ leaf: otherLeaf, chain: [otherLeaf, intermediate, root], target }),
    opts(),
    /is not issued and signed by the next/,
  );
});

test('a chain that does not reach a self-signed root is refused', (t) => {
  refused(
    t,
    makeJwsEnvelope({ leaf, chain: [leaf, intermediate], target }),
    opts({ trustStore: [intermediate.der] }),
    /does not end in a self-signed root/,
  );
});

test('identities: a wrong subject is refused, "*" and subset matches are accepted', (t) => {
  const env = makeJwsEnvelope({ leaf, chain: [leaf, intermediate, root], target });
  refused(
    t,
    env,
    opts({ identities: [identity('x509.subject: C=US, O=Acme, CN=payments-release')] }),
    /is not one of the policy's trusted identities/,
  );
  refused(
    t,
    env,
    opts({ identities: [identity('x509.subject: C=DE, O=Acme, CN=billing-release')] }),
    /trusted identities/,
  );
  t.notThrows(() => verifyEnvelope(JWS, env, opts({ identities: ['*'] })));
  t.notThrows(() =>
    verifyEnvelope(JWS, env, opts({ identities: [identity('x509.subject: O=Acme, CN=billing-release, ST=WA')] })),
  );
});

test('an expired signature, or an expired or not yet valid certificate, is refused', async (t) => {
  const past = new Date(Date.now() - 10_000);
  refused(
    t,
    makeJwsEnvelope({
      leaf,
      chain: [leaf, intermediate, root],
      target,
      signingTime: new Date(Date.now() - 60_000),
      expiry: past,
    }),
    opts(),
    /signature expired at/,
  );
  const expired = await issue(dir, 'leaf-expired', {
    subject: '/C=US/O=Acme/CN=billing-release',
    profile: 'leaf',
    issuer: root,
    notBefore: new Date(Date.now() - 7200_000),
    notAfter: new Date(Date.now() - 3600_000),
  });
  const env = makeJwsEnvelope({
    leaf: expired,
    chain: [expired, root],
    target,
    signingTime: new Date(Date.now() - 5400_000),
  });
  refused(t, env, opts(), /expired at .* before now/);
  // Signed (it says) before the certificate existed.
  refused(
    t,
    makeJwsEnvelope({ leaf, chain: [leaf, intermediate, root], target, signingTime: new Date(Date.now() - 86400_000) }),
    opts(),
    /not valid yet at the signing time/,
  );
  // The signature's expiry bounds how long the decision may be kept.
  const expiry = new Date(Date.now() + 600_000);
  const v = verifyEnvelope(JWS, makeJwsEnvelope({ leaf, chain: [leaf, intermediate, root], target, expiry }), opts());
  t.is(v.validUntil, Math.floor(expiry.getTime() / 1000) * 1000);
});

test('the leaf must be a code-signing certificate; CAs must be CAs', async (t) => {
  const cases: [string, string[], RegExp][] = [
    ['no-eku', ['keyUsage = critical,digitalSignature'], /extendedKeyUsage has no codeSigning/],
    ['tls', ['keyUsage = critical,digitalSignature', 'extendedKeyUsage = serverAuth'], /no codeSigning/],
    [
      'both',
      ['keyUsage = critical,digitalSignature', 'extendedKeyUsage = codeSigning,serverAuth'],
      /also has extendedKeyUsage 1.3.6.1.5.5.7.3.1/,
    ],
    ['no-ds', ['keyUsage = critical,keyEncipherment', 'extendedKeyUsage = codeSigning'], /no digitalSignature/],
    [
      'ca-leaf',
      ['basicConstraints = critical,CA:TRUE', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = codeSigning'],
      /is a CA certificate/,
    ],
    [
      'crit',
      [
        'keyUsage = critical,digitalSignature',
        'extendedKeyUsage = codeSigning',
        'nameConstraints = critical,permitted;DNS:example.com',
      ],
      /critical extensions pald does not support: 2.5.29.30/,
    ],
  ];
  for (const [name, ext, pattern] of cases) {
    const bad = await issue(dir, `leaf-${name}`, {
      subject: '/C=US/O=Acme/CN=billing-release',
      profile: ext,
      issuer: root,
    });
    refused(t, makeJwsEnvelope({ leaf: bad, chain: [bad, root], target }), opts(), pattern);
  }
  const notCa = await issue(dir, 'not-ca', {
    subject: '/C=US/O=Acme/CN=Not A CA',
    profile: ['basicConstraints = CA:FALSE', 'keyUsage = keyCertSign'],
    issuer: root,
  });
  const under = await issue(dir, 'leaf-under-not-ca', {
    subject: '/C=US/O=Acme/CN=billing-release',
    profile: 'leaf',
    issuer: notCa,
  });
  refused(t, makeJwsEnvelope({ leaf: under, chain: [under, notCa, root], target }), opts(), /Not A CA" is not a CA/);
  const pathLen0 = await issue(dir, 'root-pl0', {
    subject: '/C=US/O=Acme/CN=Strict Root',
    profile: ['basicConstraints = critical,CA:TRUE,pathlen:0', 'keyUsage = critical,keyCertSign'],
  });
  const mid = await issue(dir, 'mid-pl0', { subject: '/C=US/O=Acme/CN=Mid', profile: 'ca', issuer: pathLen0 });
  const deep = await issue(dir, 'leaf-pl0', {
    subject: '/C=US/O=Acme/CN=billing-release',
    profile: 'leaf',
    issuer: mid,
  });
  refused(
    t,
    makeJwsEnvelope({ leaf: deep, chain: [deep, mid, pathLen0], target }),
    opts({ trustStore: [pathLen0.der] }),
    /allows 0 CA\(s\) below it/,
  );
});

test('hostile envelopes are refused with a reason, never a crash', (t) => {
  const good = JSON.parse(makeJwsEnvelope({ leaf, chain: [leaf, intermediate, root], target }).toString()) as Record<
    string,
    unknown
  >;
  const header = (h: Record<string, unknown>): string => Buffer.from(JSON.stringify(h)).toString('base64url');
  const baseHeader = JSON.parse(Buffer.from(good['protected'] as string, 'base64url').toString()) as Record<
    string,
    unknown
  >;
  const variants: [unknown, RegExp][] = [
    ['not json', /not UTF-8 JSON/],
    [[], /not a JSON object/],
    [{ ...good, protected: 'a' }, /not base64url/],
    [{ ...good, protected: header({ ...baseHeader, alg: 'none' }) }, /algorithm "none"/],
    [{ ...good, protected: header({ ...baseHeader, alg: 'HS256' }) }, /algorithm "HS256"/],
    [{ ...good, protected: header({ ...baseHeader, cty: 'text/plain' }) }, /content type/],
    [
      { ...good, protected: header({ ...baseHeader, crit: ['io.cncf.notary.signingScheme', 'x-new'] }) },
      /critical header "x-new" is not supported/,
    ],
    [
      { ...good, protected: header({ ...baseHeader, crit: ['io.cncf.notary.expiry'] }) },
      /critical header "io.cncf.notary.expiry" is missing/,
    ],
    [
      { ...good, protected: header({ ...baseHeader, 'io.cncf.notary.signingScheme': 'notary.x509.signingAuthority' }) },
      /signing scheme/,
    ],
    [
      { ...good, protected: header({ ...baseHeader, 'io.cncf.notary.signingTime': 'yesterday' }) },
      /not an RFC 3339 time/,
    ],
    [
      { ...good, protected: header({ ...baseHeader, 'io.cncf.notary.verificationPlugin': 'x' }) },
      /verificationPlugin is not supported/,
    ],
    [{ ...good, header: {} }, /x5c is not a list/],
    [{ ...good, header: { x5c: ['!!'] } }, /x5c\[0\] is not base64/],
    [{ ...good, header: { x5c: ['AAAA'] } }, /x5c\[0\] is not an X.509 certificate/],
    [{ ...good, payload: Buffer.from('{"targetArtifact":{"digest":"sha256:00"}}').toString('base64url') }, /mediaType/],
    [{ ...good, signatures: [] }, /general JWS/],
  ];
  for (const [value, pattern] of variants) {
    const bytes = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
    refused(t, bytes, opts(), pattern);
  }
  const e = t.throws(() => verifyEnvelope('application/cose', Buffer.from([0xd2]), opts()), {
    instanceOf: NotationError,
  });
  t.regex(e.message, /not valid CBOR/);
});

test('identity syntax: "*", RFC 4514 subjects with escapes; vague or malformed ones are refused', (t) => {
  t.is(parseTrustedIdentity('*'), '*');
  t.is(identityProblem('*'), undefined);
  const id = parseTrustedIdentity('x509.subject: C=US, O=Acme\\, Inc., CN=release\\+ci');
  t.deepEqual(
    id,
    new Map([
      ['C', 'US'],
      ['O', 'Acme, Inc.'],
      ['CN', 'release+ci'],
    ]),
  );
  t.regex(identityProblem('x509.subject: C=US')!, /at least O and CN/);
  t.regex(identityProblem('subject: O=Acme, CN=x')!, /identities are/);
  t.regex(identityProblem('x509.subject: O=Acme, CN=x, CN=y')!, /CN appears twice/);
  t.regex(identityProblem('x509.subject: O=Acme, CN=x, FOO=y')!, /unknown attribute type "FOO"/);
  t.regex(identityProblem('x509.subject: O=Acme, CN')!, /is not TYPE=value/);
});

const COSE = 'application/cose';

test('openssl agrees on COSE: the Sig_structure signatures (ES256 as r‖s, PS256 with a 32-byte salt) that pald accepts', async (t) => {
  const rsa = await issue(dir, 'cose-openssl-rsa', {
    subject: '/C=US/O=Acme/CN=billing-release',
    profile: 'leaf',
    issuer: root,
    key: 'rsa2048',
  });
  for (const [signer, chain] of [
    [leaf, [leaf, intermediate, root]],
    [rsa, [rsa, root]],
  ] as const) {
    const envelope = makeCoseEnvelope({ leaf: signer, chain: [...chain], target });
    t.notThrows(() => verifyEnvelope(COSE, envelope, opts()));
    // RFC 9052 §4.4: Sig_structure = ["Signature1", protected, external_aad = h'', payload], rebuilt from the envelope.
    const [protectedBytes, , payload, signature] = (
      decode(envelope, { tags: coseTags, useMaps: true }) as { value: Uint8Array[] }
    ).value as [Uint8Array, unknown, Uint8Array, Uint8Array];
    const input = path.join(dir, 'cose-input');
    await writeFile(input, encode(['Signature1', protectedBytes, new Uint8Array(0), payload]));
    const pub = path.join(dir, 'cose-signer.pub');
    await run('openssl', ['x509', '-in', signer.certFile, '-pubkey', '-noout', '-out', pub]);
    const sig = path.join(dir, 'cose-sig');
    const rsaKey = signer === rsa;
    await writeFile(sig, rsaKey ? signature : rawToDer(Buffer.from(signature)));
    const pss = rsaKey ? ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32'] : [];
    const { stdout } = await run('openssl', ['dgst', '-sha256', ...pss, '-verify', pub, '-signature', sig, input]);
    t.regex(stdout, /Verified OK/, rsaKey ? 'PS256' : 'ES256');
  }
});

/** cborg keeps tag 18 (COSE_Sign1) as a marker object so the test can take the array out. */
const coseTags: ((content: () => unknown) => unknown)[] = [];
coseTags[18] = (content) => ({ value: content() });

/** ECDSA r‖s (P-256) → the DER SEQUENCE openssl wants. */
function rawToDer(raw: Buffer): Buffer {
  const int = (b: Buffer): Buffer => {
    let v = b;
    while (v.length > 1 && v[0] === 0 && v[1]! < 0x80) v = v.subarray(1);
    return v[0]! >= 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v;
  };
  const r = int(raw.subarray(0, 32));
  const s = int(raw.subarray(32));
  const body = Buffer.concat([Buffer.from([2, r.length]), r, Buffer.from([2, s.length]), s]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

test('COSE envelopes: valid ES256/PS256 verify; tampered, wrong identity, expired refused', async (t) => {
  const chain = [leaf, intermediate, root];
  const v = verifyEnvelope(COSE, makeCoseEnvelope({ leaf, chain, target }), opts());
  t.deepEqual(v.target, target);
  const rsa = await issue(dir, 'cose-rsa', {
    subject: '/C=US/O=Acme/CN=billing-release',
    profile: 'leaf',
    issuer: root,
    key: 'rsa2048',
  });
  t.notThrows(() => verifyEnvelope(COSE, makeCoseEnvelope({ leaf: rsa, chain: [rsa, root], target }), opts()));
  const tampered = makeCoseEnvelope({
    leaf,
    chain,
    target,
    tamperPayload: (p) => ((p['targetArtifact'] as TargetArtifact).digest = 'sha256:' + 'cd'.repeat(32)),
  });
  t.throws(() => verifyEnvelope(COSE, tampered, opts()), { message: /signature does not verify/ });
  t.throws(
    () =>
      verifyEnvelope(
        COSE,
        makeCoseEnvelope({ leaf, chain, target }),
        opts({ identities: [identity('x509.subject: O=Acme, CN=other')] }),
      ),
    { message: /trusted identities/ },
  );
  const expired = makeCoseEnvelope({
    leaf,
    chain,
    target,
    expiry: new Date(Date.now() - 5_000),
    signingTime: new Date(Date.now() - 60_000),
  });
  t.throws(() => verifyEnvelope(COSE, expired, opts()), { message: /signature expired at/ });
  // A JWS envelope is not accepted as COSE and the other way round.
  t.throws(() => verifyEnvelope(COSE, makeJwsEnvelope({ leaf, chain, target }), opts()), { instanceOf: NotationError });
  t.throws(() => verifyEnvelope(JWS, makeCoseEnvelope({ leaf, chain, target }), opts()), { instanceOf: NotationError });
});

test('hostile COSE envelopes are refused with a reason', (t) => {
  const good = makeCoseEnvelope({ leaf, chain: [leaf, root], target });
  const bad: [Uint8Array, RegExp][] = [
    [encode(new Tagged(18, [1, 2, 3])), /COSE_Sign1 array/],
    [
      encode(new Tagged(18, ['a', new Map(), new Uint8Array(1), new Uint8Array(1)])),
      /protected header is not a byte string/,
    ],
    [
      encode(new Tagged(18, [encode(new Map([[1, -8]])), new Map(), new Uint8Array(1), new Uint8Array(1)])),
      /algorithm "COSE algorithm -8"/,
    ],
    [encode(new Tagged(18, [encode(new Map([[1, -7]])), new Map(), null, new Uint8Array(1)])), /detached payloads/],
    [Buffer.concat([good.subarray(0, good.length - 3)]), /not valid CBOR/],
    [Buffer.from([0x9f, 0xff]), /not valid CBOR/],
  ];
  for (const [bytes, re] of bad) {
    const e = t.throws(() => verifyEnvelope(COSE, Buffer.from(bytes), opts()), { instanceOf: NotationError });
    t.regex(e.message, re);
  }
});
