// Rollback protection across restarts: the versions kept in state_dir, against crafted metadata
// through our own MetadataSource, with real files in a private temp dir per test.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FetchError, type MetadataSource } from '../../../src/trust/notary/source.js';
import { createNotaryProvider } from '../../../src/trust/notary/provider.js';
import { TrustServiceImpl } from '../../../src/trust/service.js';
import { fileVersionStore, parseVersionState, type VersionStore } from '../../../src/trust/state.js';
import type { ImageSubject, TrustDecision } from '../../../src/trust/types.js';
import { canonicalIdOf, craftCollection, generateKey, type CraftSpec } from '../../helpers/notary-craft.js';

const GUN = 'registry.example.com/billing/app';
const hex = randomBytes(32).toString('hex');
const targets = { '1.0': { sha256Hex: hex, custom: { pal: { labels: ['billing'] } } } };
const image: ImageSubject = { imageId: `sha256:${hex}`, repoTags: [`${GUN}:1.0`], repoDigests: [], imageLabels: {} };
let keys: CraftSpec['keys'];
let base: string;

test.before(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'pal-state-'));
  keys = {
    root: generateKey('ecdsa'),
    timestamp: generateKey('ed25519'),
    snapshot: generateKey('ecdsa'),
    targets: generateKey('ecdsa'),
  };
});
test.after.always(async () => {
  await rm(base, { recursive: true, force: true });
});

const stateDir = () => mkdtemp(path.join(base, 's-')).then((d) => path.join(d, 'state'));

function sourceOf(files: Map<string, Buffer>): MetadataSource {
  return {
    async fetchRole(gun, role) {
      const f = gun === GUN ? files.get(role) : undefined;
      if (f === undefined) throw new FetchError(`${role}.json of ${gun}: not on the notary server (404)`, 'not-found');
      return f;
    },
    close() {},
  };
}

/** A whole trust service as pald makes one at start or at a reload: nothing carried over but the store's files. */
function verify(files: Map<string, Buffer>, versions: VersionStore): Promise<TrustDecision> {
  const provider = createNotaryProvider(
    {
      server: 'https://unused',
      timeoutMs: 1000,
      collections: [
        {
          gun: GUN,
          rootKeys: [canonicalIdOf(keys.root)],
          rootThreshold: 1,
          grants: ['billing'],
          delegations: new Map(),
        },
      ],
    },
    { now: Date.now, collectionMaxAgeMs: 0, source: sourceOf(files), versions },
  );
  return new TrustServiceImpl(provider, { log: () => {}, now: Date.now, refreshMs: 0 }).verifiedLabels(image);
}

const newer = () => craftCollection({ keys, targets, versions: { root: 1, targets: 7, snapshot: 7, timestamp: 9 } });
const older = () => craftCollection({ keys, targets, versions: { root: 1, targets: 6, snapshot: 6, timestamp: 8 } });

test('a restart on the same state_dir refuses older validly signed metadata; another state_dir does not', async (t) => {
  const dir = await stateDir();
  t.is((await verify(newer(), fileVersionStore(dir))).state, 'verified');
  const d = await verify(older(), fileVersionStore(dir)); // a new process: only the files remain
  t.is(d.state, 'error');
  t.deepEqual(d.labels, []);
  t.regex(d.reason, /timestamp: version 8 is lower than version 9 seen before \(rollback\)/);
  // Control: the older set is a valid chain for someone who has seen nothing.
  t.is((await verify(older(), fileVersionStore(await stateDir()))).state, 'verified');
});

test('the state file: one per collection, 0600 in 0700 directories, every role, written atomically', async (t) => {
  const dir = await stateDir();
  const rel = generateKey('ecdsa');
  const files = craftCollection({
    keys,
    targets: {},
    versions: { root: 2, targets: 7, snapshot: 7, timestamp: 9 },
    delegations: [{ name: 'targets/releases', key: rel, paths: [''], targets, version: 4 }],
  });
  t.is((await verify(files, fileVersionStore(dir))).state, 'verified');
  const names = await readdir(path.join(dir, 'notary'));
  t.is(names.length, 1, `no temp files left behind: ${names.join(', ')}`);
  t.regex(names[0]!, /^[0-9a-f]{64}\.json$/);
  const file = path.join(dir, 'notary', names[0]!);
  t.is((await stat(file)).mode & 0o777, 0o600);
  t.is((await stat(dir)).mode & 0o777, 0o700);
  t.is((await stat(path.join(dir, 'notary'))).mode & 0o777, 0o700);
  const doc = JSON.parse(await readFile(file, 'utf8'));
  t.deepEqual(doc, {
    format: 1,
    gun: GUN,
    versions: { root: 2, snapshot: 7, targets: 7, 'targets/releases': 4, timestamp: 9 },
  });
});

test("a delegated role's version is kept too", async (t) => {
  const dir = await stateDir();
  const rel = generateKey('ecdsa');
  const spec = (version: number) =>
    craftCollection({
      keys,
      targets: {},
      delegations: [{ name: 'targets/releases', key: rel, paths: [''], targets, version }],
    });
  t.deepEqual((await verify(spec(4), fileVersionStore(dir))).labels, []); // no delegations granted: verified, no labels
  const d = await verify(spec(3), fileVersionStore(dir));
  t.regex(
    d.reason,
    /delegation targets\/releases rejected: targets\/releases: version 3 is lower than version 4 seen before \(rollback\)/,
  );
});

test('a corrupt state file fails closed for its collection, says how to reset, and is read again once removed', async (t) => {
  const dir = await stateDir();
  t.is((await verify(newer(), fileVersionStore(dir))).state, 'verified');
  const [name] = await readdir(path.join(dir, 'notary'));
  const file = path.join(dir, 'notary', name!);
  const store = fileVersionStore(dir);
  for (const [what, text, why] of [
    ['truncated', '{"format":1,"gun":', /not valid JSON/],
    ['empty', '', /not valid JSON/],
    [
      'another collection',
      JSON.stringify({ format: 1, gun: 'registry.example.com/other', versions: {} }),
      /it is for "registry.example.com\/other"/,
    ],
    [
      'negative version',
      JSON.stringify({ format: 1, gun: GUN, versions: { timestamp: -1 } }),
      /version of timestamp is not an integer/,
    ],
    ['unknown format', JSON.stringify({ format: 2, gun: GUN, versions: {} }), /format 2 is not 1/],
  ] as const) {
    await writeFile(file, text, { mode: 0o600 });
    const d = await verify(older(), store);
    t.is(d.state, 'error', what);
    t.deepEqual(d.labels, []);
    t.true(d.reason.includes(file), `${what}: names the file`);
    t.regex(d.reason, why, what);
    t.regex(d.reason, /refused until this is fixed.*rollback.*remove that file/, what);
  }
  // The operator removes it (after checking the server): the collection is verified again, no restart needed.
  await rm(file);
  t.is((await verify(newer(), store)).state, 'verified');
  t.is(JSON.parse(await readFile(file, 'utf8')).versions.timestamp, 9);
});

test('a state file that is writable by others, a symlink, or fails the file safety check is refused', async (t) => {
  const dir = await stateDir();
  t.is((await verify(newer(), fileVersionStore(dir))).state, 'verified');
  const [name] = await readdir(path.join(dir, 'notary'));
  const file = path.join(dir, 'notary', name!);
  await chmod(file, 0o666);
  t.regex((await verify(newer(), fileVersionStore(dir))).reason, /writable by group or others \(mode 0666\)/);
  await chmod(file, 0o600);
  const checked: string[] = [];
  const failing = fileVersionStore(dir, { checkFile: async (f) => (checked.push(f), 'owned by uid 1000') });
  const d = await verify(newer(), failing);
  t.is(d.state, 'error');
  t.regex(d.reason, /cannot be used: owned by uid 1000/);
  t.deepEqual(checked, [file]);
  const real = path.join(base, `elsewhere-${randomBytes(4).toString('hex')}.json`);
  await writeFile(real, await readFile(file), { mode: 0o600 });
  await rm(file);
  await symlink(real, file);
  t.regex((await verify(newer(), fileVersionStore(dir))).reason, /it is a symbolic link/);
});

test('a state_dir writable by others, or one that cannot be made, fails closed', async (t) => {
  const dir = await stateDir();
  await mkdir(dir, { mode: 0o700 });
  await chmod(dir, 0o777);
  const d = await verify(newer(), fileVersionStore(dir));
  t.is(d.state, 'error');
  t.regex(d.reason, /state_dir .* is writable by group or others \(mode 0777\)/);
  const file = path.join(base, `plain-${randomBytes(4).toString('hex')}`);
  await writeFile(file, '');
  const e = await verify(newer(), fileVersionStore(path.join(file, 'state')));
  t.is(e.state, 'error');
  t.regex(e.reason, /ENOTDIR/);
});

test('two services on one state_dir (a reload overlapping the old one) never lower what is saved', async (t) => {
  const dir = await stateDir();
  const before = fileVersionStore(dir);
  t.is((await verify(older(), before)).state, 'verified'); // old service: timestamp 8
  const after = fileVersionStore(dir);
  t.is((await verify(newer(), after)).state, 'verified'); // new service: timestamp 9
  // The old service records one more role afterwards: its save must keep 9.
  const v = await before.open(GUN);
  v.record('targets/late', 1);
  await v.save();
  const [name] = await readdir(path.join(dir, 'notary'));
  t.is(JSON.parse(await readFile(path.join(dir, 'notary', name!), 'utf8')).versions.timestamp, 9);
  t.is(v.highest('timestamp'), 9);
});

test('state parsing: hostile text is a reason, never a throw', (t) => {
  for (const text of [
    '',
    'null',
    '[]',
    '{"format":1}',
    '{"format":1,"gun":"g","versions":[]}',
    '{"format":1,"gun":"g","versions":{"../x":1}}',
    '{"format":1,"gun":"g","versions":{"root":1.5}}',
    '{"format":1,"gun":"g","versions":{"root":"1"}}',
    '{"format":1,"gun":"g","versions":{"root":1e300}}',
    '['.repeat(100_000),
  ]) {
    t.is(typeof parseVersionState(text, 'g'), 'string', text.slice(0, 40));
  }
  t.deepEqual(
    parseVersionState('{"format":1,"gun":"g","versions":{"root":1,"targets/a":3}}', 'g'),
    new Map([
      ['root', 1],
      ['targets/a', 3],
    ]),
  );
});
