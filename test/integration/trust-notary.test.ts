// Trust from signed Notary data, against a real notary-server and the real notary CLI.
import test from 'ava';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { canonicalJson } from '../../src/trust/notary/canonical-json.js';
import { createTrustService, type ImageSubject, type TrustService } from '../../src/trust/index.js';
import type { NotaryCollectionConfig, TrustConfig } from '../../src/config/types.js';
import {
  makeDelegationKey,
  NotaryCli,
  removeDir,
  serverMetadata,
  startMetadataProxy,
  startNotaryServer,
  tufPath,
  type MetadataProxy,
  type NotaryServer,
} from '../../scripts/components/notary.js';
import {
  craftCollection,
  craftKeyFrom,
  generateKey,
  type CraftKey,
  type TufKeyEntry,
} from '../helpers/notary-craft.js';

let server: NotaryServer;
let cli: NotaryCli;
let rootId: string;
const services: TrustService[] = [];
const proxies: MetadataProxy[] = [];

const REG = 'localhost:5000/pal';
const randomHex = () => randomBytes(32).toString('hex');

test.before(async () => {
  server = await startNotaryServer();
  cli = await NotaryCli.create(server);
  // `notary init` makes a root key when the trust dir has none. The tests below share this trust
  // dir and run concurrently, so without this their inits race and each makes its own root key.
  // One init here, before any test, makes the one root key that every later init reuses.
  await cli.init(`${REG}/setup`);
  rootId = await cli.rootKeyId();
});

test.after.always(async () => {
  await Promise.all(services.map((s) => s.close()));
  await Promise.all(proxies.map((p) => p.stop()));
  if (server) {
    await server.stop();
    await removeDir(server.dir);
  }
});

function service(opts: {
  url?: string;
  collections: NotaryCollectionConfig[];
  refreshMs?: number;
  log?: string[];
  stateDir?: string;
}): TrustService {
  const config: TrustConfig = {
    mode: 'notary',
    notary: { server: opts.url ?? server.url, ca: server.pki.caPath, collections: opts.collections, timeoutMs: 20_000 },
  };
  const s = createTrustService(config, {
    refreshMs: opts.refreshMs ?? 0,
    log: (m) => opts.log?.push(m),
    ...(opts.stateDir !== undefined ? { stateDir: opts.stateDir } : {}),
  });
  services.push(s);
  return s;
}

async function proxy(): Promise<MetadataProxy> {
  const p = await startMetadataProxy(server);
  proxies.push(p);
  return p;
}

function image(hex: string, repo: string, extra: Partial<ImageSubject> = {}): ImageSubject {
  return { imageId: `sha256:${hex}`, repoTags: [`${repo}:1`], repoDigests: [], imageLabels: {}, ...extra };
}

/** A fresh collection with one signed target; returns the GUN. */
async function collection(name: string, hex: string, labels: string[]): Promise<string> {
  const gun = `${REG}/${name}`;
  await cli.init(gun);
  await cli.addHash(gun, 'v1', hex, { custom: { pal: { labels } } });
  return gun;
}

const pinned = (
  gun: string,
  grants: string[],
  keys = [rootId],
  more: Partial<NotaryCollectionConfig> = {},
): NotaryCollectionConfig => ({ gun, rootKeys: keys, rootThreshold: 1, grants, delegations: new Map(), ...more });

/** The real root key as a signer, listed exactly as root.json lists it for this GUN. */
async function realRoot(gun: string): Promise<CraftKey> {
  const root = JSON.parse((await serverMetadata(server, gun, 'root')).toString()).signed;
  const id: string = root.roles.root.keyids[0];
  return craftKeyFrom(await cli.privateKey('root'), root.keys[id] as TufKeyEntry);
}

function serveCrafted(p: MetadataProxy, gun: string, files: Map<string, Buffer>): void {
  for (const [role, bytes] of files) p.overrides.set(tufPath(gun, role), bytes);
}

test('a signed image id gets exactly its granted labels; runtime labels never count', async (t) => {
  const hex = randomHex();
  const gun = await collection('granted', hex, ['billing', 'demo', 'payroll']);
  const log: string[] = [];
  const s = service({ collections: [pinned(`${REG}/*`, ['billing', 'demo', 'ops'])], log });
  const d = await s.verifiedLabels(
    image(hex, gun, {
      imageLabels: { 'pal.labels': 'ops' },
      runtimeLabels: { 'pal.labels': 'billing,root-everything' },
    }),
  );
  t.is(d.state, 'verified', d.reason);
  t.is(d.provider, 'notary');
  t.deepEqual(d.labels, ['billing', 'demo', 'ops']);
  t.deepEqual(d.droppedLabels, ['payroll']);
  t.is(d.collection, gun);
  t.regex(d.reason, /target "v1" in targets/);
  t.true(
    log.some((l) => l.includes('payroll')),
    'dropped label is logged',
  );
  t.true(d.expiresAt! > Date.now() - 1000);
});

test('the certificate id from root.json pins as well as the key list id', async (t) => {
  const hex = randomHex();
  const gun = await collection('certpin', hex, ['demo']);
  const certId = JSON.parse((await serverMetadata(server, gun, 'root')).toString()).signed.roles.root.keyids[0];
  t.not(certId, rootId);
  const d = await service({ collections: [pinned(gun, ['demo'], [certId])] }).verifiedLabels(image(hex, gun));
  t.is(d.state, 'verified', d.reason);
  t.deepEqual(d.labels, ['demo']);
});

test('an unsigned image gets no labels, even with pal.labels in its config', async (t) => {
  const gun = await collection('unsigned', randomHex(), ['demo']);
  const d = await service({ collections: [pinned(gun, ['demo'])] }).verifiedLabels(
    image(randomHex(), gun, { imageLabels: { 'pal.labels': 'demo' } }),
  );
  t.is(d.state, 'unsigned');
  t.deepEqual(d.labels, []);
  t.regex(d.reason, /no signed target/);
});

test('a repo digest matches only for its own repository', async (t) => {
  const digest = randomHex();
  const gun = await collection('bydigest', digest, ['demo']);
  const s = service({ collections: [pinned(`${REG}/**`, ['demo'])] });
  const mine = await s.verifiedLabels(image(randomHex(), gun, { repoDigests: [`${gun}@sha256:${digest}`] }));
  t.is(mine.state, 'verified', mine.reason);
  t.deepEqual(mine.labels, ['demo']);
  const other = await s.verifiedLabels(image(randomHex(), gun, { repoDigests: [`${REG}/elsewhere@sha256:${digest}`] }));
  t.deepEqual(other.labels, []);
  t.not(other.state, 'verified');
});

test('a collection whose root key is not pinned is refused', async (t) => {
  const hex = randomHex();
  const gun = await collection('wrongpin', hex, ['demo']);
  const d = await service({ collections: [pinned(gun, ['demo'], [randomHex()])] }).verifiedLabels(image(hex, gun));
  t.is(d.state, 'error');
  t.deepEqual(d.labels, []);
  t.regex(d.reason, /root: none of its root keys .* is pinned/);
});

test('an image whose repository matches no collection is unsigned', async (t) => {
  const d = await service({ collections: [pinned(`${REG}/only-this`, ['demo'])] }).verifiedLabels(
    image(randomHex(), 'busybox'),
  );
  t.is(d.state, 'unsigned');
  t.regex(d.reason, /no configured Notary collection matches docker\.io\/library\/busybox/);
});

test('tampered targets.json (one changed byte) is rejected', async (t) => {
  const hex = randomHex();
  const gun = await collection('tampered', hex, ['demo']);
  const p = await proxy();
  p.rewrite = (urlPath, body) => {
    if (urlPath !== tufPath(gun, 'targets')) return undefined;
    const out = Buffer.from(body);
    const i = out.indexOf('demo');
    out[i] = 'D'.charCodeAt(0); // the label, as an attacker would change it
    return out;
  };
  const d = await service({ url: p.url, collections: [pinned(gun, ['demo', 'Demo'])] }).verifiedLabels(image(hex, gun));
  t.is(d.state, 'error');
  t.deepEqual(d.labels, []);
  t.regex(d.reason, /targets: sha256 hash does not match the one snapshot names/);
});

test('targets signed by a key that the pinned root does not list are rejected', async (t) => {
  const hex = randomHex();
  const gun = await collection('foreignkey', hex, ['demo']);
  const root = await realRoot(gun);
  const foreign = generateKey('ecdsa');
  const files = craftCollection({
    keys: { root, timestamp: generateKey('ed25519'), snapshot: generateKey('ecdsa'), targets: generateKey('ecdsa') },
    signers: { targets: [foreign] },
    targets: { v1: { sha256Hex: hex, custom: { pal: { labels: ['demo'] } } } },
  });
  const p = await proxy();
  serveCrafted(p, gun, files);
  const d = await service({ url: p.url, collections: [pinned(gun, ['demo'])] }).verifiedLabels(image(hex, gun));
  t.is(d.state, 'error');
  t.regex(
    d.reason,
    new RegExp(
      `targets: 0 valid signature\\(s\\), threshold 1 \\(signature by key ${foreign.id.slice(0, 12)} which is not a targets key\\)`,
    ),
  );
});

test('a root signed by a key that is not pinned is rejected', async (t) => {
  const hex = randomHex();
  const gun = await collection('foreignroot', hex, ['demo']);
  const root = await realRoot(gun);
  const files = craftCollection({
    keys: { root, timestamp: generateKey('ed25519'), snapshot: generateKey('ecdsa'), targets: generateKey('ecdsa') },
    signers: { root: [generateKey('ecdsa')] },
    targets: { v1: { sha256Hex: hex, custom: { pal: { labels: ['demo'] } } } },
  });
  const p = await proxy();
  serveCrafted(p, gun, files);
  const d = await service({ url: p.url, collections: [pinned(gun, ['demo'])] }).verifiedLabels(image(hex, gun));
  t.is(d.state, 'error');
  t.regex(d.reason, /root: 0 valid signature\(s\), threshold 1 \(signature by key \w+ which is not a root key\)/);
});

test('expired metadata is rejected (targets, timestamp), valid crafted data is accepted', async (t) => {
  const hex = randomHex();
  const gun = await collection('expired', hex, ['demo']);
  const root = await realRoot(gun);
  const keys = {
    root,
    timestamp: generateKey('ed25519'),
    snapshot: generateKey('ecdsa'),
    targets: generateKey('ecdsa'),
  };
  const targets = { v1: { sha256Hex: hex, custom: { pal: { labels: ['demo'] } } } };
  const past = new Date(Date.now() - 60_000).toISOString();
  for (const [role, expect] of [
    [undefined, undefined],
    ['targets', /targets: expired at /],
    ['timestamp', /timestamp: expired at /],
  ] as const) {
    const p = await proxy();
    serveCrafted(p, gun, craftCollection({ keys, targets, ...(role ? { expires: { [role]: past } } : {}) }));
    const d = await service({ url: p.url, collections: [pinned(gun, ['demo'])] }).verifiedLabels(image(hex, gun));
    if (expect === undefined) {
      t.is(d.state, 'verified', d.reason); // the crafted chain itself is sound
    } else {
      t.is(d.state, 'error', `${role} expired`);
      t.deepEqual(d.labels, []);
      t.regex(d.reason, expect);
    }
  }
});

test('a rolled-back version (older but validly signed metadata) is rejected, also after a restart', async (t) => {
  const hex = randomHex();
  const gun = await collection('rollback', hex, ['demo']);
  // Keep the set as first published (timestamp, snapshot, targets: all signed by the real keys).
  const old = new Map<string, Buffer>();
  for (const role of ['timestamp', 'snapshot', 'targets']) old.set(role, await serverMetadata(server, gun, role));
  const oldVersion = JSON.parse(old.get('timestamp')!.toString()).signed.version as number;
  await cli.addHash(gun, 'v2', randomHex(), { custom: { pal: { labels: ['demo'] } } });
  const current = JSON.parse((await serverMetadata(server, gun, 'timestamp')).toString()).signed.version as number;
  t.true(current > oldVersion);
  const p = await proxy();
  const stateDir = await mkdtemp(path.join(server.dir, 'state-'));
  const collections = [pinned(gun, ['demo'])];
  const s = service({ url: p.url, collections, stateDir });
  t.is((await s.verifiedLabels(image(hex, gun))).state, 'verified');
  serveCrafted(p, gun, old);
  const rollback = new RegExp(
    `timestamp: version ${oldVersion} is lower than version ${current} seen before \\(rollback\\)`,
  );
  const d = await s.verifiedLabels(image(hex, gun));
  t.is(d.state, 'error');
  t.deepEqual(d.labels, []);
  t.regex(d.reason, rollback);
  await s.close();
  // A restart (or a reload with a new trust service) reads the versions back from state_dir.
  const restarted = await service({ url: p.url, collections, stateDir }).verifiedLabels(image(hex, gun));
  t.is(restarted.state, 'error');
  t.deepEqual(restarted.labels, []);
  t.regex(restarted.reason, rollback);
  // Control: with nothing remembered, the old set is still a valid chain; the state is what catches it.
  const blank = await mkdtemp(path.join(server.dir, 'state-'));
  const fresh = await service({ url: p.url, collections, stateDir: blank }).verifiedLabels(image(hex, gun));
  t.is(fresh.state, 'verified', fresh.reason);
});

test('a delegated target (targets/releases) is honoured when valid and rejected when not', async (t) => {
  const gun = await collection('delegated', randomHex(), ['demo']);
  const rel = await makeDelegationKey(cli.dir, 'releases');
  await cli.keyImport(rel.keyPath, 'targets/releases');
  await cli.delegationAdd(gun, 'targets/releases', rel.certPath);
  const hex = randomHex();
  await cli.addHash(gun, 'release-1', hex, { role: 'targets/releases', custom: { pal: { labels: ['billing'] } } });
  const img = image(hex, gun);

  const releases = { delegations: new Map([['targets/releases', ['billing']]]) };
  const good = await service({ collections: [pinned(gun, [], [rootId], releases)] }).verifiedLabels(img);
  t.is(good.state, 'verified', good.reason);
  t.deepEqual(good.labels, ['billing']);
  t.regex(good.reason, /target "release-1" in targets\/releases/);
  // The collection's grants are the top-level role's: a delegation not listed under delegations grants nothing.
  const unlisted = await service({ collections: [pinned(gun, ['billing'])] }).verifiedLabels(img);
  t.deepEqual(unlisted.labels, []);
  t.regex(unlisted.reason, /targets\/releases is not listed under this collection's delegations, so it grants nothing/);

  const p = await proxy();
  p.rewrite = (urlPath, body) => {
    if (urlPath !== tufPath(gun, 'targets/releases')) return undefined;
    return Buffer.from(body.toString().replace('billing', 'bi11ing'));
  };
  const bad = await service({ url: p.url, collections: [pinned(gun, [], [rootId], releases)] }).verifiedLabels(img);
  t.is(bad.state, 'error');
  t.deepEqual(bad.labels, []);
  t.regex(bad.reason, /delegation targets\/releases rejected: targets\/releases: sha256 hash does not match/);
});

test('a delegation may not sign outside its paths, nor with a key it was not given', async (t) => {
  const hex = randomHex();
  const gun = await collection('paths', randomHex(), ['demo']);
  const root = await realRoot(gun);
  const keys = {
    root,
    timestamp: generateKey('ed25519'),
    snapshot: generateKey('ecdsa'),
    targets: generateKey('ecdsa'),
  };
  const relKey = generateKey('ecdsa');
  const signedTarget = { 'other/v1': { sha256Hex: hex, custom: { pal: { labels: ['demo'] } } } };
  const releases = pinned(gun, [], [rootId], { delegations: new Map([['targets/releases', ['demo']]]) });
  const cases = [
    { paths: ['release/'], signers: [relKey], expect: /outside the role's delegated paths/ },
    {
      paths: [''],
      signers: [generateKey('ecdsa')],
      expect: /delegation targets\/releases rejected: targets\/releases: 0 valid signature/,
    },
  ];
  for (const c of cases) {
    const p = await proxy();
    serveCrafted(
      p,
      gun,
      craftCollection({
        keys,
        targets: {},
        delegations: [
          { name: 'targets/releases', key: relKey, paths: c.paths, signers: c.signers, targets: signedTarget },
        ],
      }),
    );
    const d = await service({ url: p.url, collections: [releases] }).verifiedLabels(image(hex, gun));
    t.deepEqual(d.labels, []);
    t.not(d.state, 'verified');
    t.regex(d.reason, c.expect);
  }
  // Control: the same delegation with all paths and its own key is honoured.
  const p = await proxy();
  serveCrafted(
    p,
    gun,
    craftCollection({
      keys,
      targets: {},
      delegations: [{ name: 'targets/releases', key: relKey, paths: [''], targets: signedTarget }],
    }),
  );
  const ok = await service({ url: p.url, collections: [releases] }).verifiedLabels(image(hex, gun));
  t.is(ok.state, 'verified', ok.reason);
  t.deepEqual(ok.labels, ['demo']);
});

test("the real server: hashes cover the served bytes; our canonical form is byte-identical to Go's", async (t) => {
  const gun = await collection('hashes', randomHex(), ['demo', 'é']);
  const snapshot = JSON.parse((await serverMetadata(server, gun, 'snapshot')).toString()).signed;
  const targets = await serverMetadata(server, gun, 'targets');
  t.is(snapshot.meta.targets.length, targets.length);
  t.is(snapshot.meta.targets.hashes.sha256, createHash('sha256').update(targets).digest('base64'));
  for (const role of ['root', 'timestamp', 'snapshot', 'targets']) {
    const text = (await serverMetadata(server, gun, role)).toString();
    // The envelope is Go struct order ({"signed":…,"signatures":…}); the signed part is canonical.
    const raw = /^\{"signed":(.*),"signatures":\[.*\]\}$/s.exec(text)?.[1];
    t.is(canonicalJson(JSON.parse(text).signed), raw ?? '(no signed part)', role);
  }
});

test('root rotation: the old pin no longer names a root key (fail closed), the new one works', async (t) => {
  const own = await NotaryCli.create(server); // rotation adds a root key: keep it out of the shared trust dir
  const gun = `${REG}/rotated`;
  const hex = randomHex();
  await own.init(gun);
  await own.addHash(gun, 'v1', hex, { custom: { pal: { labels: ['demo'] } } });
  const oldId = await own.rootKeyId();
  t.is(
    (await service({ collections: [pinned(gun, ['demo'], [oldId])] }).verifiedLabels(image(hex, gun))).state,
    'verified',
  );
  await own.rotateRoot(gun);
  const root = JSON.parse((await serverMetadata(server, gun, 'root')).toString()).signed;
  t.is(root.version, 2);
  const stale = await service({ collections: [pinned(gun, ['demo'], [oldId])] }).verifiedLabels(image(hex, gun));
  t.is(stale.state, 'error');
  t.regex(stale.reason, /none of its root keys .* is pinned/);
  const newCertId: string = root.roles.root.keyids[0];
  const renewed = await service({ collections: [pinned(gun, ['demo'], [newCertId])] }).verifiedLabels(image(hex, gun));
  t.is(renewed.state, 'verified', renewed.reason);
});

test('an RSA root imported with notary init --rootkey (rsa-x509, rsapss) verifies', async (t) => {
  const own = await NotaryCli.create(server);
  const gun = `${REG}/rsaroot`;
  const pem = path.join(own.dir, 'rsa.pem');
  await writeFile(
    pem,
    generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
  );
  await own.initWithRootKey(gun, pem);
  const hex = randomHex();
  await own.addHash(gun, 'v1', hex, { custom: { pal: { labels: ['demo'] } } });
  const rootDoc = JSON.parse((await serverMetadata(server, gun, 'root')).toString());
  t.is(rootDoc.signed.keys[rootDoc.signed.roles.root.keyids[0]].keytype, 'rsa-x509');
  t.is(rootDoc.signatures[0].method, 'rsapss');
  const d = await service({ collections: [pinned(gun, ['demo'], [await own.rootKeyId()])] }).verifiedLabels(
    image(hex, gun),
  );
  t.is(d.state, 'verified', d.reason);
});

test('re-verification over a kept-alive connection and cached lookups keep answering verified', async (t) => {
  const hex = randomHex();
  const gun = await collection('latency', hex, ['demo']);
  const s = createTrustService(
    {
      mode: 'notary',
      notary: { server: server.url, ca: server.pki.caPath, collections: [pinned(gun, ['demo'])], timeoutMs: 20_000 },
    },
    { log: () => {} },
  );
  services.push(s);
  let t0 = process.hrtime.bigint();
  t.is((await s.verifiedLabels(image(hex, gun))).state, 'verified');
  const cold = Number(process.hrtime.bigint() - t0) / 1e6;
  const n = 1000;
  t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await s.verifiedLabels(image(hex, gun));
  const warm = Number(process.hrtime.bigint() - t0) / 1e3 / n;
  const rounds = 20;
  t0 = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) {
    s.reset(); // forces the whole chain again, over the kept-alive connection
    t.is((await s.verifiedLabels(image(hex, gun))).state, 'verified');
  }
  const again = Number(process.hrtime.bigint() - t0) / 1e6 / rounds;
  t.log(`cold verify ${cold.toFixed(1)} ms; re-verify ${again.toFixed(1)} ms; cached ${warm.toFixed(2)} µs per lookup`);
  // Timing is logged, not asserted: speed belongs in the benchmarks.
});

test('a server certificate not signed by the configured CA is a TLS failure, not an outage', async (t) => {
  const hex = randomHex();
  const gun = await collection('tls', hex, ['demo']);
  const wrongCa = path.join(cli.dir, 'other-ca.pem');
  // Any CA but the server's: its own leaf certificate, which nothing chains to.
  await writeFile(wrongCa, readFileSync(server.pki.certPath, 'utf8'));
  const s = createTrustService(
    {
      mode: 'notary',
      notary: { server: server.url, ca: wrongCa, collections: [pinned(gun, ['demo'])], timeoutMs: 20_000 },
    },
    { log: () => {} },
  );
  services.push(s);
  const d = await s.verifiedLabels(image(hex, gun));
  t.is(d.state, 'error');
  t.deepEqual(d.labels, []);
  t.regex(d.reason, /failed: UNABLE_TO_VERIFY_LEAF_SIGNATURE \(TLS failure\)/);
});
