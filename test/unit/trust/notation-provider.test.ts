// The Notation provider over a stand-in registry (pal's own NotationRegistry seam): binding of the
// signed digest to the image id, target checks, signatures refused with reasons, outages transient.
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createNotationProvider, NOTATION_ARTIFACT_TYPE } from '../../../src/trust/notation/provider.js';
import type { NotationDescriptor, NotationRegistry } from '../../../src/trust/notation/registry.js';
import type { NotationConfig } from '../../../src/config/types.js';
import type { ImageSubject } from '../../../src/trust/types.js';
import { issue, makeJwsEnvelope, type Issued } from '../../helpers/notation-craft.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const REPO = '127.0.0.1:5000/billing/app';
let dir: string;
let root: Issued;
let leaf: Issued;

const digestOf = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

class FakeRegistry implements NotationRegistry {
  manifests = new Map<string, Buffer>();
  blobs = new Map<string, Buffer>();
  referrers = new Map<string, NotationDescriptor[]>();
  down = false;
  readonly configProblems = new Map<string, string>();
  async close() {}
  private check(): void {
    if (this.down) throw Object.assign(new Error('connect ECONNREFUSED'), { kind: 'unreachable' });
  }
  putManifest(json: unknown): { digest: string; size: number; bytes: Buffer } {
    const bytes = Buffer.from(JSON.stringify(json));
    const digest = digestOf(bytes);
    this.manifests.set(`${REPO}@${digest}`, bytes);
    return { digest, size: bytes.length, bytes };
  }
  putBlob(bytes: Buffer): { digest: string; size: number } {
    const digest = digestOf(bytes);
    this.blobs.set(digest, bytes);
    return { digest, size: bytes.length };
  }
  async getManifest(repository: string, reference: string) {
    this.check();
    const bytes = this.manifests.get(`${repository}@${reference}`);
    if (bytes === undefined) throw Object.assign(new Error(`manifest ${reference} not found`), { kind: 'not-found' });
    const json = JSON.parse(bytes.toString()) as { mediaType: string };
    return { digest: reference, mediaType: json.mediaType, bytes, json };
  }
  async getBlob(_repository: string, digest: string) {
    this.check();
    const b = this.blobs.get(digest);
    if (b === undefined) throw Object.assign(new Error('blob not found'), { kind: 'not-found' });
    return b;
  }
  async listReferrers(repository: string, subject: string, artifactType?: string) {
    this.check();
    return (this.referrers.get(`${repository}@${subject}`) ?? []).filter(
      (d) => artifactType === undefined || d.artifactType === artifactType,
    );
  }
}

interface Image {
  registry: FakeRegistry;
  imageId: string;
  manifest: { digest: string; size: number };
}

function pushImage(registry: FakeRegistry, seed: string): Image {
  const config = registry.putBlob(Buffer.from(`{"config":{"Labels":{"seed":"${seed}"}}}`));
  const manifest = registry.putManifest({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [],
  });
  return { registry, imageId: config.digest, manifest };
}

function sign(img: Image, subject: { digest: string; size: number }, envelope: Buffer): void {
  const layer = img.registry.putBlob(envelope);
  const empty = img.registry.putBlob(Buffer.from('{}'));
  const sig = img.registry.putManifest({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: NOTATION_ARTIFACT_TYPE,
    config: { mediaType: 'application/vnd.oci.empty.v1+json', ...empty },
    layers: [{ mediaType: 'application/jose+json', ...layer }],
    subject: { mediaType: OCI_MANIFEST, ...subject },
  });
  const key = `${REPO}@${subject.digest}`;
  img.registry.referrers.set(key, [
    ...(img.registry.referrers.get(key) ?? []),
    { mediaType: OCI_MANIFEST, digest: sig.digest, size: sig.size, artifactType: NOTATION_ARTIFACT_TYPE },
  ]);
}

function envelopeFor(subject: { digest: string; size: number }, labels = 'billing', mediaType = OCI_MANIFEST): Buffer {
  return makeJwsEnvelope({
    leaf,
    chain: [leaf, root],
    target: { mediaType, digest: subject.digest, size: subject.size, annotations: { 'pal.labels': labels } },
  });
}

function subjectOf(img: Image, over: Partial<ImageSubject> = {}): ImageSubject {
  return {
    imageId: img.imageId,
    repoDigests: [`${REPO}@${img.manifest.digest}`],
    repoTags: [`${REPO}:1.0`],
    imageLabels: {},
    ...over,
  };
}

function provider(registry: NotationRegistry, over: Partial<NotationConfig['policies'][0]> = {}) {
  return createNotationProvider(
    {
      policies: [
        {
          repository: '127.0.0.1:5000/billing/*',
          trustStore: path.join(dir, 'store'),
          identities: ['x509.subject: O=Acme, CN=billing-release'],
          grants: ['billing'],
          ...over,
        },
      ],
      timeoutMs: 3_000,
      keepVerifiedMs: 600_000,
    },
    { registry, now: Date.now, skipFileSafety: true },
  );
}

test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pal-notation-provider-'));
  root = await issue(dir, 'root', { subject: '/C=US/O=Acme/CN=Acme Root', profile: 'ca' });
  leaf = await issue(dir, 'leaf', { subject: '/C=US/O=Acme/CN=billing-release', profile: 'leaf', issuer: root });
  await (await import('node:fs/promises')).mkdir(path.join(dir, 'store'));
  await writeFile(path.join(dir, 'store', 'root.pem'), root.certPem);
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a signed image gets the signed pal.labels and its config pal.labels, as claims limited by grants', async (t) => {
  const img = pushImage(new FakeRegistry(), 'a');
  sign(img, img.manifest, envelopeFor(img.manifest, 'billing,extra'));
  const r = await provider(img.registry).labelsFor(subjectOf(img, { imageLabels: { 'pal.labels': 'db' } }));
  t.is(r.state, 'verified', r.reason);
  t.deepEqual([...r.claims[0]!.labels].sort(), ['billing', 'db', 'extra']);
  t.deepEqual(r.claims[0]!.grants, ['billing']);
  t.regex(r.claims[0]!.detail, /notation: "C=US, O=Acme, CN=billing-release" signed /);
  t.true(r.expiresAt! > Date.now());
});

test('no signature: unsigned; no matching policy: unsigned; no repo digest: unsigned', async (t) => {
  const img = pushImage(new FakeRegistry(), 'b');
  const r = await provider(img.registry).labelsFor(subjectOf(img));
  t.is(r.state, 'unsigned');
  t.regex(r.reason, /no Notation signature/);
  const other = await provider(img.registry, { repository: 'elsewhere/*' }).labelsFor(subjectOf(img));
  t.regex(other.reason, /no Notation policy matches/);
  const local = await provider(img.registry).labelsFor(subjectOf(img, { repoDigests: [] }));
  t.is(local.state, 'unsigned');
  t.regex(local.reason, /no repo digest/);
});

test('a re-tagged image whose id is not the signed config binds to nothing', async (t) => {
  const img = pushImage(new FakeRegistry(), 'c');
  sign(img, img.manifest, envelopeFor(img.manifest));
  const r = await provider(img.registry).labelsFor(subjectOf(img, { imageId: 'sha256:' + 'cd'.repeat(32) }));
  t.is(r.state, 'error');
  t.deepEqual(r.claims, []);
  t.regex(r.reason, /has config "sha256:\w+", not this container's image/);
});

test('a signature over another digest, media type or size is refused', async (t) => {
  const registry = new FakeRegistry();
  const img = pushImage(registry, 'd');
  const other = pushImage(registry, 'e');
  sign(img, img.manifest, envelopeFor(other.manifest));
  let r = await provider(registry).labelsFor(subjectOf(img));
  t.is(r.state, 'error');
  t.regex(r.reason, /refused: it signs sha256:\w+, not sha256:/);
  const img2 = pushImage(registry, 'f');
  sign(img2, img2.manifest, envelopeFor({ digest: img2.manifest.digest, size: img2.manifest.size + 1 }));
  r = await provider(registry).labelsFor(subjectOf(img2));
  t.regex(r.reason, /it signs size/);
  const img3 = pushImage(registry, 'g');
  sign(
    img3,
    img3.manifest,
    envelopeFor(img3.manifest, 'billing', 'application/vnd.docker.distribution.manifest.v2+json'),
  );
  r = await provider(registry).labelsFor(subjectOf(img3));
  t.regex(r.reason, /it signs media type/);
});

test('an untrusted identity is refused with the reason; a good signature beside it still counts', async (t) => {
  const img = pushImage(new FakeRegistry(), 'h');
  const stranger = await issue(dir, 'stranger', { subject: '/C=US/O=Acme/CN=stranger', profile: 'leaf', issuer: root });
  sign(
    img,
    img.manifest,
    makeJwsEnvelope({
      leaf: stranger,
      chain: [stranger, root],
      target: { mediaType: OCI_MANIFEST, ...img.manifest, annotations: { 'pal.labels': 'billing' } },
    }),
  );
  let r = await provider(img.registry).labelsFor(subjectOf(img));
  t.is(r.state, 'error');
  t.regex(r.reason, /signer "C=US, O=Acme, CN=stranger" is not one of the policy's trusted identities/);
  sign(img, img.manifest, envelopeFor(img.manifest));
  r = await provider(img.registry).labelsFor(subjectOf(img));
  t.is(r.state, 'verified');
  t.is(r.claims.length, 1);
  t.regex(r.reason, /stranger/);
});

test('an index binds through one of its platform manifests', async (t) => {
  const registry = new FakeRegistry();
  const img = pushImage(registry, 'i');
  const index = registry.putManifest({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [{ mediaType: OCI_MANIFEST, ...img.manifest, platform: { os: 'linux', architecture: 'amd64' } }],
  });
  sign(img, index, envelopeFor(index, 'billing', OCI_INDEX));
  const r = await provider(registry).labelsFor(subjectOf(img, { repoDigests: [`${REPO}@${index.digest}`] }));
  t.is(r.state, 'verified', r.reason);
});

test('registry down: a transient error, no labels', async (t) => {
  const img = pushImage(new FakeRegistry(), 'j');
  sign(img, img.manifest, envelopeFor(img.manifest));
  img.registry.down = true;
  const r = await provider(img.registry).labelsFor(subjectOf(img));
  t.is(r.state, 'error');
  t.true(r.transient);
  t.deepEqual(r.claims, []);
});

test('a policy whose trust store cannot be read fails closed for its repositories', async (t) => {
  const img = pushImage(new FakeRegistry(), 'k');
  sign(img, img.manifest, envelopeFor(img.manifest));
  const p = provider(img.registry, { trustStore: path.join(dir, 'missing') });
  t.regex(p.configError!, /not usable: .*ENOENT/);
  const r = await p.labelsFor(subjectOf(img));
  t.is(r.state, 'error');
  t.false(r.transient === true);
});
