// Keyless cosign signatures against a real docker-registry: a private Fulcio-like CA and Rekor-like log
// (@sigstore/mock), the operator's trusted_root.json naming them, identities = issuer + subject
// (exact or regexp). Both storage formats; wrong identity, another CA, expired certificate refused.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CosignIdentityConfig } from '../../src/config/types.js';
import { createCosignProvider } from '../../src/trust/cosign/provider.js';
import type { TrustProvider } from '../../src/trust/provider.js';
import type { ImageSubject } from '../../src/trust/types.js';
import { cosignStatement, pushBundle, signLegacy } from '../../scripts/signing/cosign-craft.js';
import { pushImage, startRegistry, type TestRegistry } from '../../scripts/components/registry.js';
import { privateSigstore, type PrivateSigstore } from '../helpers/sigstore-mock.js';

let reg: TestRegistry;
let dir: string;
let sigstore: PrivateSigstore;
let otherSigstore: PrivateSigstore;
const providers: TrustProvider[] = [];
let n = 0;

const CI = { issuer: 'https://ci.pal.test', subject: 'https://git.pal.test/acme/billing/release.yml@refs/heads/main' };

function provider(identities: CosignIdentityConfig[], trustedRoot = sigstore.trustedRootFile) {
  const p = createCosignProvider(
    {
      policies: [
        { repository: `${reg.host}/pal/*`, keys: [], keyless: { trustedRoot, identities }, grants: ['billing'] },
      ],
      timeoutMs: 3_000,
      keepVerifiedMs: 60_000,
    },
    { now: Date.now, registries: new Map([[reg.host, { insecure: true }]]), skipFileSafety: true },
  );
  providers.push(p);
  return p;
}

async function image() {
  const repo = `pal/keyless${n++}`;
  const img = await pushImage(reg, repo, 'v1');
  const subject: ImageSubject = {
    imageId: img.imageId,
    repoDigests: [`${reg.host}/${repo}@${img.manifest.digest}`],
    repoTags: [],
    imageLabels: {},
  };
  return { repo, img, subject };
}

test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pal-keyless-'));
  reg = await startRegistry();
  sigstore = await privateSigstore(dir);
  otherSigstore = await privateSigstore(dir, 'other_root.json');
});

test.after.always(async () => {
  await Promise.all(providers.map((p) => p.close()));
  await reg?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('v3 bundle, keyless: certificate chain, log entry and identity verified; labels claimed', async (t) => {
  const { repo, img, subject } = await image();
  const statement = cosignStatement(img.manifest.digest, { annotations: { 'pal.labels': 'billing' } });
  await pushBundle(reg, repo, img.manifest, await sigstore.keylessBundle(statement, CI));
  const r = await provider([CI]).labelsFor(subject);
  t.is(r.state, 'verified', r.reason);
  t.deepEqual(r.claims[0]!.labels, ['billing']);
  t.regex(r.claims[0]!.detail, /keyless https:\/\/ci\.pal\.test https:\/\/git\.pal\.test/);
});

test('legacy .sig, keyless: certificate, chain and Rekor bundle annotations verified', async (t) => {
  const { repo, img, subject } = await image();
  await signLegacy(reg, repo, img.manifest, (payload) => sigstore.keylessLegacy(payload, CI), {
    annotations: { 'pal.labels': 'billing' },
  });
  const r = await provider([CI]).labelsFor(subject);
  t.is(r.state, 'verified', r.reason);
  t.deepEqual(r.claims[0]!.labels, ['billing']);
});

test('subject_regexp matches whole subjects only', async (t) => {
  const { repo, img, subject } = await image();
  const statement = cosignStatement(img.manifest.digest, { annotations: { 'pal.labels': 'billing' } });
  await pushBundle(reg, repo, img.manifest, await sigstore.keylessBundle(statement, CI));
  const ok = await provider([{ issuer: CI.issuer, subjectRegexp: 'https://git\\.pal\\.test/acme/.*' }]).labelsFor(
    subject,
  );
  t.is(ok.state, 'verified', ok.reason);
  const partial = await provider([{ issuer: CI.issuer, subjectRegexp: 'https://git\\.pal\\.test/acme' }]).labelsFor(
    subject,
  );
  t.is(partial.state, 'error');
});

test('wrong identity (subject or issuer) is refused, with the identity in the reason', async (t) => {
  const { repo, img, subject } = await image();
  const statement = cosignStatement(img.manifest.digest, { annotations: { 'pal.labels': 'billing' } });
  await pushBundle(
    reg,
    repo,
    img.manifest,
    await sigstore.keylessBundle(statement, { ...CI, subject: 'https://git.pal.test/mallory/x.yml@refs/heads/main' }),
  );
  await signLegacy(
    reg,
    repo,
    img.manifest,
    (p) => sigstore.keylessLegacy(p, { ...CI, issuer: 'https://evil.pal.test' }),
    {
      annotations: { 'pal.labels': 'billing' },
    },
  );
  const r = await provider([CI]).labelsFor(subject);
  t.is(r.state, 'error');
  t.deepEqual(r.claims, []);
  t.regex(r.reason, /mallory.* is not an identity this policy allows/);
  t.regex(r.reason, /evil\.pal\.test.* is not an identity this policy allows/);
});

test('a certificate from a CA the trusted root does not name is refused', async (t) => {
  const { repo, img, subject } = await image();
  const statement = cosignStatement(img.manifest.digest, { annotations: { 'pal.labels': 'billing' } });
  await pushBundle(reg, repo, img.manifest, await otherSigstore.keylessBundle(statement, CI));
  const r = await provider([CI]).labelsFor(subject);
  t.is(r.state, 'error');
  t.deepEqual(r.claims, []);
  t.regex(r.reason, /bundle referrer sha256:[0-9a-f]+: .+/);
});

test('a certificate that had expired when the log entry was made is refused', async (t) => {
  const { repo, img, subject } = await image();
  const statement = cosignStatement(img.manifest.digest, { annotations: { 'pal.labels': 'billing' } });
  const bundle = await sigstore.keylessBundle(statement, CI, { certTime: new Date(Date.now() - 3_600_000) });
  await pushBundle(reg, repo, img.manifest, bundle);
  const r = await provider([CI]).labelsFor(subject);
  t.is(r.state, 'error');
  t.regex(r.reason, /certificate|CERTIFICATE/);
});

test('a key-pinned policy does not accept keyless signatures', async (t) => {
  const { repo, img, subject } = await image();
  const statement = cosignStatement(img.manifest.digest, { annotations: { 'pal.labels': 'billing' } });
  await pushBundle(reg, repo, img.manifest, await sigstore.keylessBundle(statement, CI));
  const { generateKeyPairSync } = await import('node:crypto');
  const { writeFile } = await import('node:fs/promises');
  const pub = path.join(dir, 'pinned.pub');
  await writeFile(
    pub,
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }),
  );
  const p = createCosignProvider(
    {
      policies: [{ repository: `${reg.host}/pal/*`, keys: [pub], grants: ['billing'] }],
      timeoutMs: 3_000,
      keepVerifiedMs: 1,
    },
    { now: Date.now, registries: new Map([[reg.host, { insecure: true }]]), skipFileSafety: true },
  );
  providers.push(p);
  const r = await p.labelsFor(subject);
  t.is(r.state, 'error');
  t.regex(r.reason, /no keyless section/);
});

test('the transparency log is required: a bundle without its entry, or with a forged entry timestamp, is refused', async (t) => {
  const { repo, img, subject } = await image();
  const statement = cosignStatement(img.manifest.digest, { annotations: { 'pal.labels': 'billing' } });
  const bundle = JSON.parse((await sigstore.keylessBundle(statement, CI)).toString()) as {
    verificationMaterial: { tlogEntries: { inclusionPromise: { signedEntryTimestamp: string } }[] };
  };
  const forged = structuredClone(bundle);
  const set = Buffer.from(forged.verificationMaterial.tlogEntries[0]!.inclusionPromise.signedEntryTimestamp, 'base64');
  set[set.length - 5] = set[set.length - 5]! ^ 1;
  forged.verificationMaterial.tlogEntries[0]!.inclusionPromise.signedEntryTimestamp = set.toString('base64');
  await pushBundle(reg, repo, img.manifest, Buffer.from(JSON.stringify(forged)));
  const none = structuredClone(bundle);
  none.verificationMaterial.tlogEntries = [];
  await pushBundle(reg, repo, img.manifest, Buffer.from(JSON.stringify(none)));
  const r = await provider([CI]).labelsFor(subject);
  t.is(r.state, 'error');
  t.deepEqual(r.claims, []);
  t.regex(r.reason, /inclusion promise could not be verified/);
  t.regex(r.reason, /expected 1 timestamps, got 0/);
  t.is(r.reason.match(/bundle referrer/g)?.length, 2);
});
