// The TUF chain and the Notary provider against crafted metadata, through our own MetadataSource
// interface (the real server is exercised in test/integration/trust-notary*.test.ts).
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes, X509Certificate } from 'node:crypto';
import { FetchError, type MetadataSource } from '../../../src/trust/notary/source.js';
import { createNotaryProvider } from '../../../src/trust/notary/provider.js';
import { TrustServiceImpl } from '../../../src/trust/service.js';
import type { VersionStore } from '../../../src/trust/state.js';
import type { ImageSubject, TrustDecision } from '../../../src/trust/types.js';
import {
  canonicalIdOf,
  craftCollection,
  generateKey,
  generateX509Key,
  resealCollection,
  signDocument,
  tufKeyId,
  type CraftKey,
  type CraftSpec,
} from '../../helpers/notary-craft.js';

const GUN = 'registry.example.com/billing/app';
let dir: string;
let rootKey: CraftKey; // rsa-x509, CN = GUN
let keys: CraftSpec['keys'];
const hex = randomBytes(32).toString('hex');
const targets = { '1.0': { sha256Hex: hex, custom: { pal: { labels: ['billing'] } } } };

test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pal-tuf-'));
  rootKey = await generateX509Key('rsa-x509', dir, GUN);
  // Every key type Notary produces, one per role.
  keys = {
    root: rootKey,
    timestamp: generateKey('ed25519'),
    snapshot: generateKey('ecdsa'),
    targets: await generateX509Key('ecdsa-x509', dir, 'targets'),
  };
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

class SwitchableSource implements MetadataSource {
  fetched: string[] = [];
  constructor(public files: Map<string, Buffer>) {}
  async fetchRole(gun: string, role: string, maxBytes: number): Promise<Buffer> {
    this.fetched.push(role);
    const f = gun === GUN ? this.files.get(role) : undefined;
    if (f === undefined) throw new FetchError(`${role}.json of ${gun}: not on the notary server (404)`, 'not-found');
    if (f.length > maxBytes)
      throw new FetchError(`${role}.json of ${gun}: larger than the ${maxBytes} bytes allowed`, 'bad-response');
    return f;
  }
  close(): void {}
}

interface CollectionOpts {
  readonly rootThreshold?: number;
  readonly delegations?: ReadonlyMap<string, readonly string[]>;
  readonly versions?: VersionStore;
}

function serviceFor(
  source: MetadataSource,
  pins: string[] = [canonicalIdOf(rootKey)],
  opts: CollectionOpts = {},
  clock = { now: Date.now() },
) {
  const provider = createNotaryProvider(
    {
      server: 'https://unused',
      timeoutMs: 1000,
      collections: [
        {
          gun: 'registry.example.com/billing/*',
          rootKeys: pins,
          rootThreshold: opts.rootThreshold ?? 1,
          grants: ['billing'],
          delegations: opts.delegations ?? new Map(),
        },
      ],
    },
    { now: () => clock.now, collectionMaxAgeMs: 0, source, ...(opts.versions ? { versions: opts.versions } : {}) },
  );
  return new TrustServiceImpl(provider, { log: () => {}, now: () => clock.now, refreshMs: 0 });
}

const image: ImageSubject = { imageId: `sha256:${hex}`, repoTags: [`${GUN}:1.0`], repoDigests: [], imageLabels: {} };

async function decide(files: Map<string, Buffer>, pins?: string[], opts: CollectionOpts = {}): Promise<TrustDecision> {
  return serviceFor(new SwitchableSource(files), pins, opts).verifiedLabels(image);
}

test('a chain using rsa-x509, ed25519, ecdsa and ecdsa-x509 keys verifies; both pin forms work', async (t) => {
  const files = craftCollection({ keys, targets });
  for (const pin of [canonicalIdOf(rootKey), rootKey.id]) {
    const d = await decide(files, [pin]);
    t.is(d.state, 'verified', d.reason);
    t.deepEqual(d.labels, ['billing']);
  }
});

test('a root certificate issued for another collection is refused', async (t) => {
  const other = await generateX509Key('ecdsa-x509', dir, 'registry.example.com/other');
  const d = await decide(craftCollection({ keys: { ...keys, root: other }, targets }), [canonicalIdOf(other)]);
  t.is(d.state, 'error');
  t.regex(d.reason, /pinned root certificate \w+ is for "registry.example.com\/other"/);
});

test('thresholds: distinct listed keys must reach the threshold; a repeated signature counts once', async (t) => {
  const second = generateKey('ecdsa');
  const spec = { keys, targets, moreRoleKeys: { targets: [second] }, thresholds: { targets: 2 } };
  const one = await decide(craftCollection({ ...spec, signers: { targets: [keys.targets] } }));
  t.is(one.state, 'error');
  t.regex(one.reason, /targets: 1 valid signature\(s\), threshold 2/);
  const twice = await decide(craftCollection({ ...spec, signers: { targets: [keys.targets, keys.targets] } }));
  t.is(twice.state, 'error');
  const both = await decide(craftCollection({ ...spec, signers: { targets: [keys.targets, second] } }));
  t.is(both.state, 'verified', both.reason);
});

test('root threshold counts only pinned root keys', async (t) => {
  const unpinned = generateKey('ecdsa');
  const files = craftCollection({
    keys,
    targets,
    moreRoleKeys: { root: [unpinned] },
    thresholds: { root: 2 },
    signers: { root: [rootKey, unpinned] },
  });
  const d = await decide(files);
  t.is(d.state, 'error');
  t.regex(d.reason, /root: 1 valid signature\(s\), threshold 2/);
  t.is((await decide(files, [canonicalIdOf(rootKey), unpinned.id])).state, 'verified');
});

test('root_threshold: root.json cannot lower it (two pinned keys, a 1-of-2 root signed by one is refused)', async (t) => {
  const second = generateKey('ecdsa');
  const pins = [canonicalIdOf(rootKey), second.id];
  // What one stolen root key can make: a root listing both keys with threshold 1, signed by itself.
  const forged = craftCollection({
    keys,
    targets,
    moreRoleKeys: { root: [second] },
    thresholds: { root: 1 },
    signers: { root: [second] },
  });
  const d = await decide(forged, pins, { rootThreshold: 2 });
  t.is(d.state, 'error');
  t.deepEqual(d.labels, []);
  t.regex(
    d.reason,
    /root: 1 valid signature\(s\), threshold 2 \(.*root_threshold 2 needs that many distinct pinned root keys, whatever root.json's threshold 1 says/,
  );
  // Signed by both pinned keys, the same root passes; with root_threshold 1 one signature is enough.
  const both = craftCollection({
    keys,
    targets,
    moreRoleKeys: { root: [second] },
    thresholds: { root: 1 },
    signers: { root: [rootKey, second] },
  });
  t.is((await decide(both, pins, { rootThreshold: 2 })).state, 'verified');
  t.is((await decide(forged, pins, { rootThreshold: 1 })).state, 'verified');
});

test("root.json's own threshold is still required above root_threshold", async (t) => {
  const second = generateKey('ecdsa');
  const pins = [canonicalIdOf(rootKey), second.id];
  const files = craftCollection({
    keys,
    targets,
    moreRoleKeys: { root: [second] },
    thresholds: { root: 2 },
    signers: { root: [rootKey] },
  });
  const d = await decide(files, pins, { rootThreshold: 1 });
  t.is(d.state, 'error');
  t.regex(d.reason, /root: 1 valid signature\(s\), threshold 2/);
});

test('one root key listed under its certificate id and its own id counts once', async (t) => {
  const cert = new X509Certificate(Buffer.from(rootKey.entry.keyval.public, 'base64'));
  const bareEntry = {
    keytype: 'rsa',
    keyval: { private: null, public: cert.publicKey.export({ type: 'spki', format: 'der' }).toString('base64') },
  };
  const bare: CraftKey = { ...rootKey, id: tufKeyId(bareEntry), entry: bareEntry };
  t.is(bare.id, canonicalIdOf(rootKey));
  const files = craftCollection({
    keys,
    targets,
    moreRoleKeys: { root: [bare] },
    thresholds: { root: 2 },
    signers: { root: [rootKey, bare] },
  });
  // The operator pinned what look like two keys (both ids of one key) and asked for two.
  const d = await decide(files, [rootKey.id, bare.id], { rootThreshold: 2 });
  t.is(d.state, 'error');
  t.regex(d.reason, /root: 1 valid signature\(s\), threshold 2 \(.*already signed, listed again/);
});

test('a delegated role grants only what `delegations` lists for it; unlisted roles grant nothing', async (t) => {
  const dev = generateKey('ecdsa');
  // A role trusted for dev/ names signs a dev/ name with the production image's hash.
  const files = craftCollection({
    keys,
    targets: {},
    delegations: [
      {
        name: 'targets/dev',
        key: dev,
        paths: ['dev/'],
        targets: { 'dev/x': { sha256Hex: hex, custom: { pal: { labels: ['billing', 'dev-tools'] } } } },
      },
    ],
  });
  const unlisted = await decide(files);
  t.deepEqual(unlisted.labels, []);
  t.regex(unlisted.reason, /targets\/dev is not listed under this collection's delegations, so it grants nothing/);
  t.deepEqual(unlisted.droppedLabels, ['billing', 'dev-tools']);
  const listed = await decide(files, undefined, { delegations: new Map([['targets/dev', ['dev-tools']]]) });
  t.is(listed.state, 'verified', listed.reason);
  t.deepEqual(listed.labels, ['dev-tools']);
  t.deepEqual(listed.droppedLabels, ['billing']);
  // The image config's pal.labels ride on the match, so they are bounded by the same role's grants.
  const withConfigLabels = await serviceFor(new SwitchableSource(files), undefined, {
    delegations: new Map([['targets/dev', ['dev-tools']]]),
  }).verifiedLabels({ ...image, imageLabels: { 'pal.labels': 'billing' } });
  t.deepEqual(withConfigLabels.labels, ['dev-tools']);
  // The top-level targets role still grants the collection's grants.
  t.deepEqual((await decide(craftCollection({ keys, targets }))).labels, ['billing']);
});

test('a signature over different content, or a key listed under a wrong id, does not count', async (t) => {
  const files = craftCollection({ keys, targets });
  const doc = JSON.parse(files.get('targets')!.toString());
  doc.signed.expires = '2098-01-01T00:00:00Z'; // re-signed content no longer matches the signature
  const changed = resealCollection(files, keys, { targets: Buffer.from(JSON.stringify(doc)) });
  const d = await decide(changed);
  t.is(d.state, 'error');
  t.regex(d.reason, /targets: 0 valid signature\(s\), threshold 1 \(bad ecdsa signature by key/);
});

test('reformatted but identically signed JSON still verifies (canonical re-encoding)', async (t) => {
  const files = craftCollection({ keys, targets });
  const pretty = Buffer.from(JSON.stringify(JSON.parse(files.get('targets')!.toString()), null, 2));
  const d = await decide(resealCollection(files, keys, { targets: pretty }));
  t.is(d.state, 'verified', d.reason);
});

test('version rollback is refused per role, equal versions are fine', async (t) => {
  const source = new SwitchableSource(
    craftCollection({ keys, targets, versions: { targets: 5, snapshot: 5, timestamp: 5 } }),
  );
  const s = serviceFor(source);
  t.is((await s.verifiedLabels(image)).state, 'verified');
  t.is((await s.verifiedLabels(image)).state, 'verified', 'same versions again');
  source.files = craftCollection({ keys, targets, versions: { targets: 4, snapshot: 5, timestamp: 6 } });
  const d = await s.verifiedLabels(image);
  t.is(d.state, 'error');
  t.regex(d.reason, /targets: version 4 is lower than version 5 seen before \(rollback\)/);
});

test('delegations: bad names, paths outside the parent, and missing metadata are handled', async (t) => {
  const rel = generateKey('ed25519');
  const files = craftCollection({
    keys,
    targets: {},
    delegations: [
      { name: 'targets/releases', key: rel, paths: ['1.'], targets },
      { name: 'other/role', key: rel, paths: [''], targets },
    ],
  });
  const d = await decide(files);
  t.is(d.state, 'verified', d.reason);
  t.regex(d.reason, /delegation "other\/role" is not a valid child role name/);
  const unpublished = new Map(files);
  unpublished.delete('targets/releases');
  const snap = JSON.parse(files.get('snapshot')!.toString()).signed;
  delete snap.meta['targets/releases'];
  const none = await decide(resealCollection(unpublished, keys, { snapshot: signDocument(snap, [keys.snapshot]) }));
  t.is(none.state, 'unsigned', none.reason);
});

// Hostile inputs: every one must come back as state 'error' with a reason, never a throw.
const hostile: Array<[string, string, (b: Buffer) => Buffer]> = [
  ['root', 'truncated', (b) => b.subarray(0, b.length - 5)],
  ['timestamp', 'truncated', (b) => b.subarray(0, 40)],
  ['root', 'not an object', () => Buffer.from('[1,2,3]')],
  ['timestamp', 'empty', () => Buffer.alloc(0)],
  ['targets', 'version as string', (b) => Buffer.from(b.toString().replace(/"version":\d+/, '"version":"2"'))],
  [
    'targets',
    'huge version',
    (b) => Buffer.from(b.toString().replace(/"version":\d+/, '"version":123456789012345678901234567890')),
  ],
  ['targets', 'float version', (b) => Buffer.from(b.toString().replace(/"version":\d+/, '"version":2.5'))],
  ['targets', 'missing expires', (b) => Buffer.from(b.toString().replace(/"expires":"[^"]*",/, ''))],
  ['targets', 'bad expires', (b) => Buffer.from(b.toString().replace(/"expires":"[^"]*"/, '"expires":"tomorrow"'))],
  [
    'targets',
    'targets as array',
    (b) =>
      Buffer.from(
        b
          .toString()
          .replace(/"targets":\{/, '"targets":[{')
          .replace(/,"version"/, '],"version"'),
      ),
  ],
  ['targets', 'hash not base64', (b) => Buffer.from(b.toString().replace(/"sha256":"[^"]*"/, '"sha256":"%%%"'))],
  ['targets', 'length negative', (b) => Buffer.from(b.toString().replace(/"length":\d+/, '"length":-1'))],
  ['snapshot', 'meta missing', (b) => Buffer.from(b.toString().replace(/"meta":/, '"mota":'))],
  [
    'snapshot',
    'signatures not a list',
    (b) => Buffer.from(JSON.stringify({ ...JSON.parse(b.toString()), signatures: { x: 1 } })),
  ],
  [
    'root',
    'deep nesting',
    () => Buffer.from('{"signed":{"_type":"Root","x":' + '['.repeat(5000) + ']'.repeat(5000) + '},"signatures":[]}'),
  ],
  ['root', 'wrong _type', (b) => Buffer.from(b.toString().replace('"_type":"Root"', '"_type":"Targets"'))],
  [
    'timestamp',
    'keyid not hex',
    (b) => Buffer.from(b.toString().replace(/"keyid":"[0-9a-f]+"/, '"keyid":"../../etc"')),
  ],
];

for (const [role, what, mutate] of hostile) {
  test(`hostile ${role}.json (${what}) is an error with a reason`, async (t) => {
    const files = craftCollection({ keys, targets });
    const bad = mutate(files.get(role)!);
    // Reseal below the root/timestamp so the bytes reach the parser instead of the hash check.
    const served =
      role === 'root' || role === 'timestamp'
        ? new Map(files).set(role, bad)
        : resealCollection(files, keys, { [role]: bad });
    let d: TrustDecision | undefined;
    await t.notThrowsAsync(async () => {
      d = await decide(served);
    });
    t.is(d!.state, 'error', d!.reason);
    t.deepEqual(d!.labels, []);
    t.regex(d!.reason, new RegExp(role === 'root' ? 'root' : role));
  });
}

test('a file larger than its parent says is not even read past the limit', async (t) => {
  const files = craftCollection({ keys, targets });
  const snapLen = JSON.parse(files.get('timestamp')!.toString()).signed.meta.snapshot.length;
  const grown = new Map(files).set('snapshot', Buffer.concat([files.get('snapshot')!, Buffer.alloc(1 << 20, 32)]));
  const d = await decide(grown);
  t.is(d.state, 'error');
  t.regex(d.reason, new RegExp(`larger than the ${snapLen} bytes allowed`));
});

test('a malformed image id is an error, not a crash', async (t) => {
  const s = serviceFor(new SwitchableSource(craftCollection({ keys, targets })));
  for (const imageId of ['', 'sha256:xyz', `sha512:${hex}`, 42 as unknown as string]) {
    const d = await s.verifiedLabels({ ...image, imageId });
    t.is(d.state, 'error');
    t.deepEqual(d.labels, []);
  }
});
