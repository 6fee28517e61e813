// The OCI registry client against a real docker-registry (Distribution 2.8): digests checked, the
// referrers tag fallback, size limits, TLS with a pinned CA, and outages sorted from attacks.
import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createRegistryClient, RegistryError } from '../../src/trust/oci/client.js';
import type { RegistryClient, RegistryFailure } from '../../src/trust/oci/types.js';
import {
  pushBlob,
  pushImage,
  pushReferrer,
  sha256Digest,
  startRegistry,
  type TestRegistry,
} from '../../scripts/components/registry.js';
import { startReferrersFront } from '../helpers/referrers-front.js';

let reg: TestRegistry;
let tlsReg: TestRegistry;
const clients: RegistryClient[] = [];

function client(opts: Parameters<typeof createRegistryClient>[0] = {}): RegistryClient {
  const c = createRegistryClient({
    registries: { [reg.host]: { insecure: true } },
    timeoutMs: 5_000,
    skipFileSafety: true,
    ...opts,
  });
  clients.push(c);
  return c;
}

async function rejectsKind(t: import('ava').ExecutionContext, p: Promise<unknown>, kind: RegistryFailure, re?: RegExp) {
  const e = await t.throwsAsync(p);
  t.true(e instanceof RegistryError, String(e));
  t.is((e as RegistryError).kind, kind, e?.message);
  if (re) t.regex(e.message, re);
}

/** Overwrite a blob's bytes in the registry's storage (it serves what is on disk without re-hashing). */
async function tamperBlob(r: TestRegistry, digest: string, bytes: Buffer): Promise<void> {
  const hex = digest.slice(7);
  await writeFile(path.join(r.dir, 'storage/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data'), bytes);
}

test.before(async () => {
  reg = await startRegistry();
  tlsReg = await startRegistry({ tls: true });
});

test.after.always(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await reg?.destroy();
  await tlsReg?.destroy();
});

test('manifest by tag and by digest, with the digest computed here', async (t) => {
  const img = await pushImage(reg, 'pal/app', 'v1', { labels: { 'pal.labels': 'billing' } });
  const c = client();
  const byTag = await c.getManifest(`${reg.host}/pal/app`, 'v1');
  t.is(byTag.digest, img.manifest.digest);
  t.is(byTag.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  const byDigest = await c.getManifest(`${reg.host}/pal/app`, img.manifest.digest);
  t.deepEqual(byDigest.bytes, byTag.bytes);
  t.is((byDigest.json as { config: { digest: string } }).config.digest, img.imageId);
  const config = await c.getBlob(`${reg.host}/pal/app`, img.imageId, 1024 * 1024);
  t.deepEqual(config, img.config);
});

test('a blob whose bytes do not hash to its digest is refused', async (t) => {
  const blob = await pushBlob(reg, 'pal/tamper', Buffer.from('original bytes of the blob'));
  await tamperBlob(reg, blob.digest, Buffer.from('tampered bytes of the blob'));
  await rejectsKind(t, client().getBlob(`${reg.host}/pal/tamper`, blob.digest, 1024), 'bad-response', /hashes to/);
});

test('a manifest whose bytes do not hash to the requested digest is refused', async (t) => {
  const img = await pushImage(reg, 'pal/tamper-manifest', 'v1');
  const original = await readFile(
    path.join(
      reg.dir,
      'storage/docker/registry/v2/blobs/sha256',
      img.manifest.digest.slice(7, 9),
      img.manifest.digest.slice(7),
      'data',
    ),
  );
  await tamperBlob(reg, img.manifest.digest, Buffer.from(`${original.toString()} `));
  await rejectsKind(
    t,
    client().getManifest(`${reg.host}/pal/tamper-manifest`, img.manifest.digest),
    'bad-response',
    /hashes to/,
  );
});

test('blob larger than allowed is refused while reading', async (t) => {
  const blob = await pushBlob(reg, 'pal/big', Buffer.alloc(200_000, 7));
  await rejectsKind(t, client().getBlob(`${reg.host}/pal/big`, blob.digest, 100_000), 'bad-response', /allowed/);
  t.is((await client().getBlob(`${reg.host}/pal/big`, blob.digest, 200_000)).length, 200_000);
});

test('manifest larger than maxManifestBytes is refused', async (t) => {
  const img = await pushImage(reg, 'pal/bigmanifest', 'v1');
  const c = client({ maxManifestBytes: 100 });
  await rejectsKind(t, c.getManifest(`${reg.host}/pal/bigmanifest`, img.manifest.digest), 'bad-response', /allowed/);
});

test('missing manifest and blob: not-found', async (t) => {
  const c = client();
  await rejectsKind(t, c.getManifest(`${reg.host}/pal/none`, 'latest'), 'not-found');
  await rejectsKind(t, c.getBlob(`${reg.host}/pal/none`, sha256Digest('x'), 10), 'not-found');
});

test('referrers: the 404 from the referrers API falls back to the sha256-<hex> tag, filtered by artifactType', async (t) => {
  const img = await pushImage(reg, 'pal/ref', 'v1');
  const c = client();
  t.deepEqual(await c.listReferrers(`${reg.host}/pal/ref`, img.manifest.digest), []);
  const a = await pushReferrer(reg, 'pal/ref', img.manifest, 'application/vnd.dev.sigstore.bundle.v0.3+json', [
    { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', bytes: Buffer.from('{"a":1}') },
  ]);
  const b = await pushReferrer(reg, 'pal/ref', img.manifest, 'application/vnd.cncf.notary.signature', [
    { mediaType: 'application/jose+json', bytes: Buffer.from('{"b":2}') },
  ]);
  const all = await c.listReferrers(`${reg.host}/pal/ref`, img.manifest.digest);
  t.deepEqual(all.map((d) => d.digest).sort(), [a.digest, b.digest].sort());
  const notation = await c.listReferrers(
    `${reg.host}/pal/ref`,
    img.manifest.digest,
    'application/vnd.cncf.notary.signature',
  );
  t.deepEqual(
    notation.map((d) => d.digest),
    [b.digest],
  );
});

test('referrers API: every page is read, following Link rel="next"; the tag fallback is not needed', async (t) => {
  const img = await pushImage(reg, 'pal/paged', 'v1');
  const pushed = [];
  for (let i = 0; i < 5; i++) {
    const type =
      i % 2 === 0 ? 'application/vnd.cncf.notary.signature' : 'application/vnd.dev.sigstore.bundle.v0.3+json';
    pushed.push(
      await pushReferrer(reg, 'pal/paged', img.manifest, type, [
        { mediaType: 'application/jose+json', bytes: Buffer.from(`{"i":${i}}`) },
      ]),
    );
  }
  const front = await startReferrersFront(reg, 2);
  t.teardown(() => front.close());
  const c = client({ registries: { [front.host]: { insecure: true } } });
  const all = await c.listReferrers(`${front.host}/pal/paged`, img.manifest.digest);
  t.deepEqual(all.map((d) => d.digest).sort(), pushed.map((d) => d.digest).sort());
  t.is(front.referrersRequests.length, 3, front.referrersRequests.join('\n'));
  t.regex(front.referrersRequests[1]!, /[?&]last=sha256%3A[0-9a-f]{64}/);
  // The filtered listing pages too (three Notation signatures, two per page).
  const notation = await c.listReferrers(
    `${front.host}/pal/paged`,
    img.manifest.digest,
    'application/vnd.cncf.notary.signature',
  );
  t.deepEqual(notation.map((d) => d.digest).sort(), [pushed[0]!, pushed[2]!, pushed[4]!].map((d) => d.digest).sort());
});

test('referrers API: a next link that leaves the registry or the listing, or repeats a page, is refused', async (t) => {
  const img = await pushImage(reg, 'pal/hostile-pages', 'v1');
  for (let i = 0; i < 3; i++)
    await pushReferrer(reg, 'pal/hostile-pages', img.manifest, 'application/vnd.cncf.notary.signature', [
      { mediaType: 'application/jose+json', bytes: Buffer.from(`{"h":${i}}`) },
    ]);
  const front = await startReferrersFront(reg, 1);
  t.teardown(() => front.close());
  const c = client({ registries: { [front.host]: { insecure: true } } });
  const list = () => c.listReferrers(`${front.host}/pal/hostile-pages`, img.manifest.digest);
  front.nextLinkOverride = () => 'http://127.0.0.2:9/v2/pal/hostile-pages/referrers/' + img.manifest.digest;
  await rejectsKind(t, list(), 'bad-response', /leaves the listing/);
  front.nextLinkOverride = () => `/v2/pal/other/referrers/${img.manifest.digest}?n=1`;
  await rejectsKind(t, list(), 'bad-response', /leaves the listing/);
  front.nextLinkOverride = (repo, subject) => `/v2/${repo}/referrers/${subject}`;
  await rejectsKind(t, list(), 'bad-response', /repeats a page/);
});

test('registry down: unreachable (an outage, not an attack)', async (t) => {
  const down = await startRegistry();
  const host = down.host;
  await down.destroy();
  const c = createRegistryClient({ registries: { [host]: { insecure: true } }, timeoutMs: 2_000 });
  clients.push(c);
  await rejectsKind(t, c.getManifest(`${host}/pal/app`, 'v1'), 'unreachable');
});

test('plain HTTP only where configured: an unconfigured loopback registry is asked over https and fails', async (t) => {
  const c = createRegistryClient({ timeoutMs: 2_000 });
  clients.push(c);
  const e = await t.throwsAsync(c.getManifest(`${reg.host}/pal/app`, 'v1'));
  t.true(e instanceof RegistryError);
  t.not((e as RegistryError).kind, 'not-found');
});

test('insecure is refused for a host that is not loopback', async (t) => {
  const c = createRegistryClient({ registries: { 'registry.example.com': { insecure: true } } });
  clients.push(c);
  await rejectsKind(t, c.getManifest('registry.example.com/pal/app', 'v1'), 'bad-response', /loopback/);
});

test('TLS: the pinned CA is trusted, and only it', async (t) => {
  const img = await pushImage(tlsReg, 'pal/tls', 'v1');
  const caFile = tlsReg.pki!.caPath;
  const pinned = client({ registries: { [tlsReg.host]: { ca: caFile } } });
  t.is((await pinned.getManifest(`${tlsReg.host}/pal/tls`, 'v1')).digest, img.manifest.digest);
  // Without the pin, the system CAs do not know the test CA: a TLS failure, never excused as an outage.
  const unpinned = client({ registries: {} });
  await rejectsKind(t, unpinned.getManifest(`${tlsReg.host}/pal/tls`, 'v1'), 'bad-response', /TLS/);
  // Another registry's CA does not vouch for this one.
  const other = await startRegistry({ tls: true });
  t.teardown(() => other.destroy());
  const wrong = client({ registries: { [tlsReg.host]: { ca: other.pki!.caPath } } });
  await rejectsKind(t, wrong.getManifest(`${tlsReg.host}/pal/tls`, 'v1'), 'bad-response', /TLS/);
});

test('hostile names and references are refused before any request', async (t) => {
  const c = client();
  await rejectsKind(t, c.getManifest(`${reg.host}/../etc`, 'v1'), 'bad-response');
  await rejectsKind(t, c.getManifest(`${reg.host}/pal/app`, '../../x'), 'bad-response');
  await rejectsKind(t, c.getBlob(`${reg.host}/pal/app`, 'sha256:zz', 10), 'bad-response');
  await rejectsKind(t, c.listReferrers('nohost', sha256Digest('x')), 'bad-response');
});
