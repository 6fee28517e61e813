// The cosign provider against a real docker-registry: signatures in both storage formats (legacy
// `.sig` simple-signing and v3 Sigstore bundle referrers), written as cosign writes them, verified
// with pinned keys; every way a signature must not count; registry outage fails closed.
import test from 'ava';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { CosignPolicyConfig } from '../../src/config/types.js';
import { createCosignProvider } from '../../src/trust/cosign/provider.js';
import type { TrustProvider } from '../../src/trust/provider.js';
import { TrustServiceImpl } from '../../src/trust/service.js';
import type { ImageSubject } from '../../src/trust/types.js';
import {
  cosignStatement,
  keyedBundle,
  pushBundle,
  signBundle,
  signLegacy,
} from '../../scripts/signing/cosign-craft.js';
import { pushBlob, pushImage, startRegistry, type TestRegistry } from '../../scripts/components/registry.js';

const run = promisify(execFile);
let reg: TestRegistry;
let dir: string;
const providers: TrustProvider[] = [];
let n = 0;

interface KeyPair {
  priv: KeyObject;
  pubFile: string;
}

async function keyPair(kind: 'p256' | 'ed25519' | 'rsa'): Promise<KeyPair> {
  const pair =
    kind === 'p256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : kind === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519');
  const pubFile = path.join(dir, `key-${n++}.pub`);
  await writeFile(pubFile, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  return { priv: pair.privateKey, pubFile };
}

function provider(policies: Partial<CosignPolicyConfig>[], opts: { host?: string; keepVerifiedMs?: number } = {}) {
  const p = createCosignProvider(
    {
      policies: policies.map((pol) => ({
        repository: `${reg.host}/pal/*`,
        keys: [],
        grants: ['billing', 'db'],
        ...pol,
      })),
      timeoutMs: 3_000,
      keepVerifiedMs: opts.keepVerifiedMs ?? 60_000,
    },
    { now: Date.now, registries: new Map([[opts.host ?? reg.host, { insecure: true }]]), skipFileSafety: true },
  );
  providers.push(p);
  return p;
}

/** A fresh image in its own repository, as the runtime describes it after a pull by digest. */
async function image(labels: Record<string, string> = {}) {
  const repo = `pal/app${n++}`;
  const img = await pushImage(reg, repo, 'v1', { labels });
  const subject: ImageSubject = {
    imageId: img.imageId,
    repoDigests: [`${reg.host}/${repo}@${img.manifest.digest}`],
    repoTags: [`${reg.host}/${repo}:v1`],
    imageLabels: labels,
  };
  return { repo, img, subject };
}

test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pal-cosign-'));
  reg = await startRegistry();
});

test.after.always(async () => {
  await Promise.all(providers.map((p) => p.close()));
  await reg?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('legacy .sig, ECDSA P-256: the signed pal.labels annotation and the image config label are claimed', async (t) => {
  const key = await keyPair('p256');
  const { repo, img, subject } = await image({ 'pal.labels': 'db' });
  await signLegacy(reg, repo, img.manifest, key.priv, { annotations: { 'pal.labels': 'billing' } });
  const r = await provider([{ keys: [key.pubFile] }]).labelsFor(subject);
  t.is(r.state, 'verified', r.reason);
  t.deepEqual([...r.claims[0]!.labels].sort(), ['billing', 'db']);
  t.deepEqual(r.claims[0]!.grants, ['billing', 'db']);
  t.regex(r.claims[0]!.detail, /legacy signature .*\.sig/);
});

test('legacy .sig signature cross-checked with openssl (DER ECDSA over the payload)', async (t) => {
  const key = await keyPair('p256');
  const { repo, img } = await image();
  const { payload, signature } = await signLegacy(reg, repo, img.manifest, key.priv, {
    annotations: { 'pal.labels': 'billing' },
  });
  await writeFile(path.join(dir, 'payload'), payload);
  await writeFile(path.join(dir, 'sig.der'), signature);
  const { stdout } = await run('openssl', [
    'dgst',
    '-sha256',
    '-verify',
    key.pubFile,
    '-signature',
    path.join(dir, 'sig.der'),
    path.join(dir, 'payload'),
  ]);
  t.regex(stdout, /Verified OK/);
});

test('v3 bundle referrer (tag fallback), ECDSA P-256: verified through sigstore-js', async (t) => {
  const key = await keyPair('p256');
  const { repo, img, subject } = await image();
  await signBundle(reg, repo, img.manifest, key.priv, { annotations: { 'pal.labels': 'billing' } });
  const r = await provider([{ keys: [key.pubFile] }]).labelsFor(subject);
  t.is(r.state, 'verified', r.reason);
  t.deepEqual(r.claims[0]!.labels, ['billing']);
  t.regex(r.claims[0]!.detail, /bundle referrer sha256:/);
});

test('Ed25519 (legacy) and RSA (bundle) keys', async (t) => {
  const ed = await keyPair('ed25519');
  const rsa = await keyPair('rsa');
  const a = await image();
  await signLegacy(reg, a.repo, a.img.manifest, ed.priv, { annotations: { 'pal.labels': 'billing' } });
  const b = await image();
  await signBundle(reg, b.repo, b.img.manifest, rsa.priv, { annotations: { 'pal.labels': 'db' } });
  const p = provider([{ keys: [ed.pubFile, rsa.pubFile] }]);
  const ra = await p.labelsFor(a.subject);
  t.is(ra.state, 'verified', ra.reason);
  t.deepEqual(ra.claims[0]!.labels, ['billing']);
  const rb = await p.labelsFor(b.subject);
  t.is(rb.state, 'verified', rb.reason);
  t.deepEqual(rb.claims[0]!.labels, ['db']);
});

test('wrong key: both formats refused, with the reason', async (t) => {
  const signer = await keyPair('p256');
  const pinned = await keyPair('p256');
  const { repo, img, subject } = await image();
  await signLegacy(reg, repo, img.manifest, signer.priv, { annotations: { 'pal.labels': 'billing' } });
  await signBundle(reg, repo, img.manifest, signer.priv, { annotations: { 'pal.labels': 'billing' } });
  const r = await provider([{ keys: [pinned.pubFile] }]).labelsFor(subject);
  t.is(r.state, 'error');
  t.deepEqual(r.claims, []);
  t.regex(r.reason, /\.sig layer 0: signature does not verify with any pinned key/);
  t.regex(r.reason, /bundle referrer sha256:[0-9a-f]+: signature does not verify with any pinned key/);
});

test('tampered payload: legacy payload changed after signing, bundle statement changed after signing', async (t) => {
  const key = await keyPair('p256');
  const { repo, img, subject } = await image();
  const honest = Buffer.from('{"critical":{}}');
  await signLegacy(reg, repo, img.manifest, key.priv, { annotations: { 'pal.labels': 'billing' }, signOther: honest });
  const statement = cosignStatement(img.manifest.digest, { annotations: { 'pal.labels': 'db' } });
  const bundle = keyedBundle(key.priv, statement, {
    tamperAfterSigning: (s) => Buffer.from(s.toString().replace('"db"', '"billing,db"')),
  });
  await pushBundle(reg, repo, img.manifest, bundle);
  const r = await provider([{ keys: [key.pubFile] }]).labelsFor(subject);
  t.is(r.state, 'error');
  t.deepEqual(r.claims, []);
  t.regex(r.reason, /layer 0: signature does not verify/);
  t.regex(r.reason, /bundle referrer .*: signature does not verify/);
});

test('tampered blob in the registry (bytes no longer match the layer digest)', async (t) => {
  const key = await keyPair('p256');
  const { repo, img, subject } = await image();
  const { payload } = await signLegacy(reg, repo, img.manifest, key.priv, { annotations: { 'pal.labels': 'billing' } });
  const { createHash } = await import('node:crypto');
  const hex = createHash('sha256').update(payload).digest('hex');
  await writeFile(
    path.join(reg.dir, 'storage/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data'),
    Buffer.from(payload.toString().replace('billing', 'billinG')),
  );
  const r = await provider([{ keys: [key.pubFile] }]).labelsFor(subject);
  t.is(r.state, 'error');
  t.regex(r.reason, /hashes to/);
});

test('digest mismatch: a valid signature over another digest grants nothing', async (t) => {
  const key = await keyPair('p256');
  const other = await image();
  const { repo, img, subject } = await image();
  // Signed by the pinned key, stored under this image's tag, but the payload names another image.
  await signLegacy(reg, repo, img.manifest, key.priv, {
    annotations: { 'pal.labels': 'billing' },
    signedDigest: other.img.manifest.digest,
  });
  await signBundle(reg, repo, img.manifest, key.priv, {
    annotations: { 'pal.labels': 'billing' },
    signedDigest: other.img.manifest.digest,
  });
  const r = await provider([{ keys: [key.pubFile] }]).labelsFor(subject);
  t.is(r.state, 'error');
  t.regex(r.reason, /payload signs "sha256:[0-9a-f]+", not sha256:/);
  t.regex(r.reason, /statement does not name sha256:/);
});

test('signature made for another repository (legacy docker-reference) grants nothing', async (t) => {
  const key = await keyPair('p256');
  const { repo, img, subject } = await image();
  await signLegacy(reg, repo, img.manifest, key.priv, {
    annotations: { 'pal.labels': 'billing' },
    dockerReference: `${reg.host}/pal/other`,
  });
  const r = await provider([{ keys: [key.pubFile] }]).labelsFor(subject);
  t.is(r.state, 'error');
  t.regex(r.reason, /payload is for repository .*pal\/other/);
});

test('binding: a re-tagged local image whose image id is not the signed config grants nothing', async (t) => {
  const key = await keyPair('p256');
  const { repo, img, subject } = await image();
  await signLegacy(reg, repo, img.manifest, key.priv, { annotations: { 'pal.labels': 'billing' } });
  const impostor = { ...subject, imageId: `sha256:${'1'.repeat(64)}` };
  const r = await provider([{ keys: [key.pubFile] }]).labelsFor(impostor);
  t.is(r.state, 'error');
  t.regex(r.reason, /has config "sha256:[0-9a-f]+", not this container's image sha256:1111/);
});

test('missing signature: unsigned, no labels', async (t) => {
  const key = await keyPair('p256');
  const { subject } = await image({ 'pal.labels': 'billing' });
  const r = await provider([{ keys: [key.pubFile] }]).labelsFor(subject);
  t.is(r.state, 'unsigned');
  t.deepEqual(r.claims, []);
  t.regex(r.reason, /no cosign signature/);
});

test('no policy for the repository: unsigned', async (t) => {
  const key = await keyPair('p256');
  const { subject } = await image();
  const r = await provider([{ keys: [key.pubFile], repository: 'registry.example.com/*' }]).labelsFor(subject);
  t.is(r.state, 'unsigned');
  t.regex(r.reason, /no cosign policy matches/);
});

test('oversize: a bundle larger than allowed is not read', async (t) => {
  const key = await keyPair('p256');
  const { repo, img, subject } = await image();
  const statement = cosignStatement(img.manifest.digest, {
    annotations: { 'pal.labels': 'billing', pad: 'x'.repeat(1_200_000) },
  });
  await pushBundle(reg, repo, img.manifest, keyedBundle(key.priv, statement));
  const r = await provider([{ keys: [key.pubFile] }]).labelsFor(subject);
  t.is(r.state, 'error');
  t.regex(r.reason, /larger than allowed/);
});

test('a manifest in the .sig tag that lists a huge payload layer is refused without fetching it', async (t) => {
  const key = await keyPair('p256');
  const { repo, img, subject } = await image();
  const big = await pushBlob(reg, repo, Buffer.alloc(100_000, 32), 'application/vnd.dev.cosign.simplesigning.v1+json');
  const { pushManifest } = await import('../../scripts/components/registry.js');
  const config = await pushBlob(reg, repo, Buffer.from('{}'), 'application/vnd.oci.image.config.v1+json');
  await pushManifest(reg, repo, `${img.manifest.digest.replace(':', '-')}.sig`, {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config,
    layers: [{ ...big, annotations: { 'dev.cosignproject.cosign/signature': 'AAAA' } }],
  });
  const r = await provider([{ keys: [key.pubFile] }]).labelsFor(subject);
  t.is(r.state, 'error');
  t.regex(r.reason, /payload of 100000 bytes is larger than allowed/);
});

test('registry down: fail closed (transient error); the service keeps an already verified image, denies an unseen one, and recovers by itself', async (t) => {
  const own = await startRegistry();
  t.teardown(() => own.destroy());
  const key = await keyPair('p256');
  const repo = 'pal/outage';
  const a = await pushImage(own, repo, 'a');
  const b = await pushImage(own, repo, 'b', { layer: Buffer.from('other layer') });
  await signLegacy(own, repo, a.manifest, key.priv, { annotations: { 'pal.labels': 'billing' } });
  await signBundle(own, repo, b.manifest, key.priv, { annotations: { 'pal.labels': 'billing' } });
  const subj = (img: typeof a, tag: string): ImageSubject => ({
    imageId: img.imageId,
    repoDigests: [`${own.host}/${repo}@${img.manifest.digest}`],
    repoTags: [`${own.host}/${repo}:${tag}`],
    imageLabels: {},
  });
  const p = createCosignProvider(
    {
      policies: [{ repository: `${own.host}/pal/*`, keys: [key.pubFile], grants: ['billing'] }],
      timeoutMs: 2_000,
      keepVerifiedMs: 60_000,
    },
    { now: Date.now, registries: new Map([[own.host, { insecure: true }]]), skipFileSafety: true },
  );
  let clock = Date.now();
  const logs: string[] = [];
  const service = new TrustServiceImpl(p, { log: (m) => logs.push(m), now: () => clock, refreshMs: 1_000 });
  t.teardown(() => service.close());
  t.deepEqual((await service.verifiedLabels(subj(a, 'a'))).labels, ['billing']);
  await own.stop();
  clock += 2_000; // past the re-check
  const direct = await p.labelsFor(subj(b, 'b'));
  t.is(direct.state, 'error');
  t.true(direct.transient);
  const kept = await service.verifiedLabels(subj(a, 'a'));
  t.deepEqual(kept.labels, ['billing']);
  t.regex(kept.reason, /kept from the last verification/);
  const unseen = await service.verifiedLabels(subj(b, 'b'));
  t.deepEqual(unseen.labels, []);
  t.is(unseen.state, 'error');
  t.regex(unseen.reason, /unreachable/);
  await own.start();
  clock += 10_000; // past the error retry
  const back = await service.verifiedLabels(subj(b, 'b'));
  t.deepEqual(back.labels, ['billing'], back.reason);
});

test('labels outside the policy grants are dropped by the service, and said', async (t) => {
  const key = await keyPair('p256');
  const { repo, img, subject } = await image();
  await signBundle(reg, repo, img.manifest, key.priv, { annotations: { 'pal.labels': 'billing,root-secrets' } });
  const p = provider([{ keys: [key.pubFile], grants: ['billing'] }]);
  const logs: string[] = [];
  const service = new TrustServiceImpl(p, { log: (m) => logs.push(m), now: Date.now, refreshMs: 30_000 });
  const d = await service.verifiedLabels(subject);
  t.deepEqual(d.labels, ['billing']);
  t.deepEqual(d.droppedLabels, ['root-secrets']);
  t.is(d.provider, 'cosign');
  t.true(logs.some((l) => l.includes('root-secrets')));
});

test('multi-platform index: a signature on the index, or on the platform manifest, binds the image of that platform', async (t) => {
  const key = await keyPair('p256');
  const { pushManifest } = await import('../../scripts/components/registry.js');
  for (const signWhat of ['index', 'platform'] as const) {
    const repo = `pal/multi${n++}`;
    const amd = await pushImage(reg, repo, 'amd64', { layer: Buffer.from(`amd64 ${repo}`), labels: { arch: 'amd64' } });
    const arm = await pushImage(reg, repo, 'arm64', { layer: Buffer.from(`arm64 ${repo}`), labels: { arch: 'arm64' } });
    const index = await pushManifest(
      reg,
      repo,
      'v1',
      {
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { ...amd.manifest, platform: { os: 'linux', architecture: 'amd64' } },
          { ...arm.manifest, platform: { os: 'linux', architecture: 'arm64' } },
        ],
      },
      'application/vnd.oci.image.index.v1+json',
    );
    await signBundle(reg, repo, signWhat === 'index' ? index : arm.manifest, key.priv, {
      annotations: { 'pal.labels': 'billing' },
    });
    // Docker records the index digest as the repo digest of a multi-platform pull.
    const subject: ImageSubject = {
      imageId: arm.imageId,
      repoDigests: [`${reg.host}/${repo}@${index.digest}`],
      repoTags: [],
      imageLabels: {},
    };
    const r = await provider([{ keys: [key.pubFile] }]).labelsFor(subject);
    t.is(r.state, 'verified', `${signWhat}: ${r.reason}`);
    t.deepEqual(r.claims[0]?.labels, ['billing']);
    const other = await provider([{ keys: [key.pubFile] }]).labelsFor({
      ...subject,
      imageId: `sha256:${'2'.repeat(64)}`,
    });
    t.is(other.state, 'error');
    t.regex(other.reason, /no platform manifest of index/);
  }
});
