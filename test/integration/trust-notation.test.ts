// The Notation provider against a real docker-registry (Distribution 2.8, no referrers API: the
// signatures are found through the referrers tag fallback), with signatures stored exactly as
// `notation sign` stores them, made with openssl certificates and node:crypto.
import test from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRegistryClient } from '../../src/trust/oci/client.js';
import type { RegistryClient } from '../../src/trust/oci/types.js';
import { createNotationProvider, NOTATION_ARTIFACT_TYPE } from '../../src/trust/notation/provider.js';
import { TrustServiceImpl } from '../../src/trust/service.js';
import type { NotationPolicyConfig } from '../../src/config/types.js';
import type { ImageSubject } from '../../src/trust/types.js';
import {
  issue,
  makeCoseEnvelope,
  makeJwsEnvelope,
  type EnvelopeOptions,
  type Issued,
} from '../helpers/notation-craft.js';
import {
  OCI_INDEX,
  OCI_MANIFEST,
  pushImage,
  pushManifest,
  pushReferrer,
  startRegistry,
  type Descriptor,
  type TestRegistry,
} from '../../scripts/components/registry.js';

let reg: TestRegistry;
let dir: string;
let root: Issued;
let leaf: Issued;
let strangerRoot: Issued;
let strangerLeaf: Issued;
let wrongName: Issued;
const clients: RegistryClient[] = [];

test.before(async () => {
  reg = await startRegistry();
  dir = await mkdtemp(path.join(tmpdir(), 'pal-notation-it-'));
  root = await issue(dir, 'root', { subject: '/C=US/O=Acme/CN=Acme Root', profile: 'ca' });
  leaf = await issue(dir, 'leaf', { subject: '/C=US/O=Acme/CN=billing-release', profile: 'leaf', issuer: root });
  wrongName = await issue(dir, 'wrong', { subject: '/C=US/O=Acme/CN=payments-release', profile: 'leaf', issuer: root });
  strangerRoot = await issue(dir, 'sroot', { subject: '/C=US/O=Acme/CN=Acme Root', profile: 'ca' });
  strangerLeaf = await issue(dir, 'sleaf', {
    subject: '/C=US/O=Acme/CN=billing-release',
    profile: 'leaf',
    issuer: strangerRoot,
  });
  await mkdir(path.join(dir, 'store'));
  await writeFile(path.join(dir, 'store', 'acme.pem'), root.certPem);
});

test.after.always(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await reg?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function provider(over: Partial<NotationPolicyConfig> = {}) {
  const client = createRegistryClient({
    registries: { [reg.host]: { insecure: true } },
    timeoutMs: 3_000,
    skipFileSafety: true,
  });
  clients.push(client);
  const policy: NotationPolicyConfig = {
    repository: `${reg.host}/billing/*`,
    trustStore: path.join(dir, 'store'),
    identities: ['x509.subject: C=US, O=Acme, CN=billing-release'],
    grants: ['billing', 'db'],
    ...over,
  };
  return createNotationProvider(
    { policies: [policy], timeoutMs: 3_000, keepVerifiedMs: 600_000 },
    { registry: client, now: Date.now, skipFileSafety: true },
  );
}

/** What `notation sign` pushes: a signature manifest referring to the image, one JWS layer. */
async function notationSign(
  repo: string,
  subject: Descriptor,
  o: Partial<EnvelopeOptions> & { annotations?: Record<string, string>; target?: EnvelopeOptions['target'] } = {},
): Promise<void> {
  const signer = o.leaf ?? leaf;
  const envelope = makeJwsEnvelope({
    leaf: signer,
    chain: o.chain ?? [signer, signer === strangerLeaf ? strangerRoot : root],
    target: o.target ?? {
      mediaType: subject.mediaType,
      digest: subject.digest,
      size: subject.size,
      annotations: o.annotations ?? { 'pal.labels': 'billing' },
    },
    ...(o.expiry ? { expiry: o.expiry, signingTime: new Date(Date.now() - 120_000) } : {}),
    ...(o.tamperPayload ? { tamperPayload: o.tamperPayload } : {}),
  });
  await pushReferrer(
    reg,
    repo,
    subject,
    NOTATION_ARTIFACT_TYPE,
    [{ mediaType: 'application/jose+json', bytes: envelope }],
    {
      'io.cncf.notary.x509chain.thumbprint#S256': '["00"]',
    },
  );
}

function subject(repo: string, img: { imageId: string; manifest: Descriptor }, labels: Record<string, string> = {}) {
  const s: ImageSubject = {
    imageId: img.imageId,
    repoDigests: [`${reg.host}/${repo}@${img.manifest.digest}`],
    repoTags: [`${reg.host}/${repo}:1.0`],
    imageLabels: labels,
  };
  return s;
}

test('a valid signature grants its signed pal.labels and the image config pal.labels', async (t) => {
  const img = await pushImage(reg, 'billing/valid', '1.0', { labels: { 'pal.labels': 'db' } });
  await notationSign('billing/valid', img.manifest, { annotations: { 'pal.labels': 'billing,admin' } });
  const r = await provider().labelsFor(subject('billing/valid', img, { 'pal.labels': 'db' }));
  t.is(r.state, 'verified', r.reason);
  t.deepEqual([...r.claims[0]!.labels].sort(), ['admin', 'billing', 'db']);
  // The trust service above applies grants: admin is dropped and reported.
  const svc = new TrustServiceImpl(provider(), { log: () => {}, now: Date.now, refreshMs: 30_000 });
  const d = await svc.verifiedLabels(subject('billing/valid', img, { 'pal.labels': 'db' }));
  t.deepEqual(d.labels, ['billing', 'db']);
  t.deepEqual(d.droppedLabels, ['admin']);
  t.regex(d.reason, /notation: "C=US, O=Acme, CN=billing-release" signed /);
});

test('a COSE envelope (notation sign --signature-format cose) grants its labels', async (t) => {
  const img = await pushImage(reg, 'billing/cose', '1.0');
  const envelope = makeCoseEnvelope({
    leaf,
    chain: [leaf, root],
    target: { ...img.manifest, annotations: { 'pal.labels': 'billing' } },
  });
  await pushReferrer(reg, 'billing/cose', img.manifest, NOTATION_ARTIFACT_TYPE, [
    { mediaType: 'application/cose', bytes: envelope },
  ]);
  const r = await provider().labelsFor(subject('billing/cose', img));
  t.is(r.state, 'verified', r.reason);
  t.deepEqual(r.claims[0]!.labels, ['billing']);
});

test('a tampered payload is refused', async (t) => {
  const img = await pushImage(reg, 'billing/tampered', '1.0');
  await notationSign('billing/tampered', img.manifest, {
    tamperPayload: (p) => ((p['targetArtifact'] as { annotations: unknown }).annotations = { 'pal.labels': 'db' }),
  });
  const r = await provider().labelsFor(subject('billing/tampered', img));
  t.is(r.state, 'error');
  t.deepEqual(r.claims, []);
  t.regex(r.reason, /signature does not verify/);
});

test('a signature chaining to an untrusted root is refused', async (t) => {
  const img = await pushImage(reg, 'billing/untrusted', '1.0');
  await notationSign('billing/untrusted', img.manifest, { leaf: strangerLeaf });
  const r = await provider().labelsFor(subject('billing/untrusted', img));
  t.is(r.state, 'error');
  t.regex(r.reason, /is in the trust store/);
});

test('a signer outside the trusted identities is refused', async (t) => {
  const img = await pushImage(reg, 'billing/identity', '1.0');
  await notationSign('billing/identity', img.manifest, { leaf: wrongName });
  const r = await provider().labelsFor(subject('billing/identity', img));
  t.is(r.state, 'error');
  t.regex(r.reason, /"C=US, O=Acme, CN=payments-release" is not one of the policy's trusted identities/);
});

test('an expired signature is refused', async (t) => {
  const img = await pushImage(reg, 'billing/expired', '1.0');
  await notationSign('billing/expired', img.manifest, { expiry: new Date(Date.now() - 1000) });
  const r = await provider().labelsFor(subject('billing/expired', img));
  t.is(r.state, 'error');
  t.regex(r.reason, /signature expired at/);
});

test('a signature for another digest, stored as a referrer of this image, is refused', async (t) => {
  const img = await pushImage(reg, 'billing/mismatch', '1.0');
  const other = await pushImage(reg, 'billing/mismatch', '2.0', { layer: Buffer.from('other') });
  await notationSign('billing/mismatch', img.manifest, {
    target: { mediaType: OCI_MANIFEST, digest: other.manifest.digest, size: other.manifest.size, annotations: {} },
  });
  const r = await provider().labelsFor(subject('billing/mismatch', img));
  t.is(r.state, 'error');
  t.regex(r.reason, new RegExp(`it signs ${other.manifest.digest}, not ${img.manifest.digest}`));
});

test('no signature, or one only in another repository: unsigned, no labels', async (t) => {
  const img = await pushImage(reg, 'billing/unsigned', '1.0', { layer: Buffer.from('same') });
  let r = await provider().labelsFor(subject('billing/unsigned', img));
  t.is(r.state, 'unsigned');
  t.regex(r.reason, /no Notation signature/);
  // The same image pushed to another repository and signed there grants nothing here.
  const copy = await pushImage(reg, 'billing/elsewhere', '1.0', { layer: Buffer.from('same') });
  t.is(copy.manifest.digest, img.manifest.digest);
  await notationSign('billing/elsewhere', copy.manifest);
  r = await provider().labelsFor(subject('billing/unsigned', img));
  t.is(r.state, 'unsigned');
  t.is((await provider().labelsFor(subject('billing/elsewhere', copy))).state, 'verified');
});

test('a re-tagged image whose id is not the signed config gets nothing', async (t) => {
  const img = await pushImage(reg, 'billing/retag', '1.0');
  await notationSign('billing/retag', img.manifest);
  const r = await provider().labelsFor({ ...subject('billing/retag', img), imageId: 'sha256:' + 'ee'.repeat(32) });
  t.is(r.state, 'error');
  t.regex(r.reason, /not this container's image/);
});

test('a signed index grants to the image of one of its platform manifests', async (t) => {
  const img = await pushImage(reg, 'billing/multi', 'amd64');
  const index = await pushManifest(
    reg,
    'billing/multi',
    '1.0',
    {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ ...img.manifest, platform: { os: 'linux', architecture: 'amd64' } }],
    },
    OCI_INDEX,
  );
  await notationSign('billing/multi', index);
  const r = await provider().labelsFor({
    ...subject('billing/multi', img),
    repoDigests: [`${reg.host}/billing/multi@${index.digest}`],
  });
  t.is(r.state, 'verified', r.reason);
});

test('registry down: verified images keep their labels until re-check, unseen ones are denied, recovery without restart', async (t) => {
  const own = await startRegistry();
  t.teardown(() => own.destroy());
  const client = createRegistryClient({
    registries: { [own.host]: { insecure: true } },
    timeoutMs: 2_000,
    skipFileSafety: true,
  });
  clients.push(client);
  const p = createNotationProvider(
    {
      policies: [
        {
          repository: `${own.host}/**`,
          trustStore: path.join(dir, 'store'),
          identities: ['*'],
          grants: ['billing'],
        },
      ],
      timeoutMs: 3_000,
      keepVerifiedMs: 600_000,
    },
    { registry: client, now: Date.now, skipFileSafety: true },
  );
  let now = Date.now();
  const svc = new TrustServiceImpl(p, { log: () => {}, now: () => now, refreshMs: 1_000 });
  const seen = await pushImage(own, 'app/seen', '1.0');
  const unseen = await pushImage(own, 'app/unseen', '1.0');
  for (const img of [seen, unseen]) {
    const env = makeJwsEnvelope({
      leaf,
      chain: [leaf, root],
      target: { ...img.manifest, annotations: { 'pal.labels': 'billing' } },
    });
    await pushReferrer(own, img === seen ? 'app/seen' : 'app/unseen', img.manifest, NOTATION_ARTIFACT_TYPE, [
      { mediaType: 'application/jose+json', bytes: env },
    ]);
  }
  const at = (repo: string, img: { imageId: string; manifest: Descriptor }): ImageSubject => ({
    imageId: img.imageId,
    repoDigests: [`${own.host}/${repo}@${img.manifest.digest}`],
    repoTags: [],
    imageLabels: {},
  });
  const first = await svc.verifiedLabels(at('app/seen', seen));
  t.deepEqual(first.labels, ['billing'], first.reason);
  await own.stop();
  now += 2_000; // past the re-check interval
  const kept = await svc.verifiedLabels(at('app/seen', seen));
  t.deepEqual(kept.labels, ['billing']);
  t.regex(kept.reason, /kept from the last verification/);
  const denied = await svc.verifiedLabels(at('app/unseen', unseen));
  t.is(denied.state, 'error');
  t.deepEqual(denied.labels, []);
  await own.start();
  now += 10_000; // past the error retry
  const back = await svc.verifiedLabels(at('app/unseen', unseen));
  t.deepEqual(back.labels, ['billing'], back.reason);
});
