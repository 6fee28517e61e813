// End to end with cosign signatures: real docker-registry, real dockerd (images pushed, so the runtime
// knows their repo digests), real pald with trust.mode signed + trust.cosign, real FUSE. A container of
// a cosign-signed image (v3 bundle, and legacy .sig) reads its secret; an unsigned image and one signed
// with another key are denied, with the reason in the audit log. Notation is configured beside cosign:
// `pal containers`, `pal explain` and `.pal/whoami.json` say which provider granted which label and
// why the other granted nothing.
import test from 'ava';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { signBundle, signLegacy } from '../../scripts/signing/cosign-craft.js';
import { issue, makeJwsEnvelope } from '../helpers/notation-craft.js';
import { NOTATION_ARTIFACT_TYPE } from '../../src/trust/notation/provider.js';
import { startDockerd, type TestDockerd } from '../../scripts/components/dockerd.js';
import { startPald, type TestPald } from '../helpers/pald.js';
import { waitFor } from '../helpers/wait.js';
import { runWithPal, execIn } from '../helpers/pal-container.js';
import { pushReferrer, startRegistry, type Descriptor, type TestRegistry } from '../../scripts/components/registry.js';

const secretText = `cosign-e2e-${randomBytes(16).toString('hex')}`;
let reg: TestRegistry | undefined;
let dockerd: TestDockerd | undefined;
let pald: TestPald | undefined;
let keyDir = '';
const names: Record<string, string> = {};
let lateImg: { ref: string; manifest: Descriptor } | undefined;

/** Import a busybox image under the registry's name, push it, and return its manifest as the registry has it. */
async function pushed(repo: string): Promise<{ ref: string; manifest: Descriptor }> {
  const ref = `${reg!.host}/${repo}:1`;
  await dockerd!.importBusyboxImage(ref);
  await dockerd!.docker('push', ref);
  const repoDigest = await dockerd!.docker('image', 'inspect', '-f', '{{index .RepoDigests 0}}', ref);
  const digest = repoDigest.slice(repoDigest.indexOf('@') + 1);
  const res = await fetch(`${reg!.url}/v2/${repo}/manifests/${digest}`, {
    method: 'HEAD',
    headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' },
  });
  return {
    ref,
    manifest: {
      mediaType: (res.headers.get('content-type') ?? '').split(';')[0]!,
      digest,
      size: Number(res.headers.get('content-length')),
    },
  };
}

function keyPair(): { priv: KeyObject; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { priv: privateKey, pem: publicKey.export({ type: 'spki', format: 'pem' }) as string };
}

async function run(name: string, image: string): Promise<string> {
  await runWithPal(dockerd!, pald!.mountpoint, name, image);
  return name;
}

function exec(container: string, ...cmd: string[]) {
  return execIn(dockerd!, container, ...cmd);
}

test.before(async () => {
  reg = await startRegistry();
  dockerd = await startDockerd();
  keyDir = await mkdtemp(path.join(tmpdir(), 'pal-cosign-keys-'));
  await chmod(keyDir, 0o755);
  const key = keyPair();
  const other = keyPair();
  const pubFile = path.join(keyDir, 'billing.pub');
  await writeFile(pubFile, key.pem, { mode: 0o644 });

  const bundleImg = await pushed('pal/bundle');
  await signBundle(reg, 'pal/bundle', bundleImg.manifest, key.priv, { annotations: { 'pal.labels': 'billing' } });
  // The same image also signed with Notation, asking for ops (granted) and root-access (not in its grants).
  const root = await issue(keyDir, 'root', { subject: '/C=US/O=Acme/CN=Acme Root', profile: 'ca' });
  const leaf = await issue(keyDir, 'leaf', { subject: '/C=US/O=Acme/CN=ops-release', profile: 'leaf', issuer: root });
  await mkdir(path.join(keyDir, 'store'), { mode: 0o755 });
  await writeFile(path.join(keyDir, 'store', 'acme.pem'), root.certPem, { mode: 0o644 });
  const envelope = makeJwsEnvelope({
    leaf,
    chain: [leaf, root],
    target: { ...bundleImg.manifest, annotations: { 'pal.labels': 'ops,root-access' } },
  });
  await pushReferrer(reg, 'pal/bundle', bundleImg.manifest, NOTATION_ARTIFACT_TYPE, [
    { mediaType: 'application/jose+json', bytes: envelope },
  ]);
  const legacyImg = await pushed('pal/legacy');
  await signLegacy(reg, 'pal/legacy', legacyImg.manifest, key.priv, { annotations: { 'pal.labels': 'billing' } });
  lateImg = await pushed('pal/late');
  await signBundle(reg, 'pal/late', lateImg.manifest, key.priv, { annotations: { 'pal.labels': 'billing' } });
  const unsignedImg = await pushed('pal/unsigned');
  const wrongImg = await pushed('pal/wrongkey');
  await signBundle(reg, 'pal/wrongkey', wrongImg.manifest, other.priv, { annotations: { 'pal.labels': 'billing' } });

  pald = await startPald({
    dockerHost: dockerd.host,
    trust: {
      mode: 'signed',
      cosign: { policies: [{ repository: `${reg.host}/pal/*`, keys: [pubFile], grants: ['billing'] }] },
      notation: {
        policies: [
          {
            repository: `${reg.host}/pal/*`,
            trust_store: path.join(keyDir, 'store'),
            identities: ['x509.subject: C=US, O=Acme, CN=ops-release'],
            grants: ['ops'],
          },
        ],
      },
      registries: { [reg.host]: { insecure: true } },
      recheck_ms: 1000,
    },
  });
  await pald.seal('billing-key', ['billing'], secretText);
  await waitFor('pald to load the secret', async () => {
    const r = await pald!.pal('secrets', '--json');
    return r.code === 0 && (JSON.parse(r.stdout) as unknown[]).length === 1;
  });
  names['bundle'] = await run('cosign-bundle', bundleImg.ref);
  names['legacy'] = await run('cosign-legacy', legacyImg.ref);
  names['unsigned'] = await run('cosign-unsigned', unsignedImg.ref);
  names['wrong'] = await run('cosign-wrongkey', wrongImg.ref);
});

test.after.always(async () => {
  for (const c of Object.values(names)) await dockerd?.docker('rm', '-f', c).catch(() => {});
  await pald?.cleanup();
  await dockerd?.cleanup();
  await reg?.destroy();
  if (keyDir) await rm(keyDir, { recursive: true, force: true });
});

test.serial('a container of a cosign v3 (bundle) signed image reads its secret', async (t) => {
  const r = await exec(names['bundle']!, 'cat', '/run/pal/billing-key');
  t.is(r.code, 0, r.stderr + pald!.output());
  t.is(r.stdout, secretText);
  const who = JSON.parse((await exec(names['bundle']!, 'cat', '/run/pal/.pal/whoami.json')).stdout) as {
    labels: string[];
    trust: { state: string; provider: string; reason: string } & Provenance;
  };
  t.deepEqual(who.labels, ['billing', 'ops']);
  t.is(who.trust.state, 'verified');
  t.is(who.trust.provider, 'cosign+notation');
  // Which provider granted which label, and what the other asked for that its grants did not allow.
  t.deepEqual(who.trust.grantedBy, { billing: ['cosign'], ops: ['notation'] });
  const cosign = who.trust.providers.find((p) => p.provider === 'cosign')!;
  const notation = who.trust.providers.find((p) => p.provider === 'notation')!;
  t.like(cosign, { state: 'verified', labels: ['billing'] });
  t.like(notation, { state: 'verified', labels: ['ops'], droppedLabels: ['root-access'] });
  t.regex(notation.reason, /ops-release/);
});

interface Provenance {
  grantedBy: Record<string, string[]>;
  providers: { provider: string; state: string; labels: string[]; droppedLabels?: string[]; reason: string }[];
}

test.serial(
  'pal containers, pal explain and whoami say which provider granted a label and why the other did not',
  async (t) => {
    // The legacy image has a cosign signature only: notation says it found none.
    const who = JSON.parse((await exec(names['legacy']!, 'cat', '/run/pal/.pal/whoami.json')).stdout) as {
      trust: Provenance;
    };
    t.deepEqual(who.trust.grantedBy, { billing: ['cosign'] });
    t.like(
      who.trust.providers.find((p) => p.provider === 'notation'),
      { state: 'unsigned', labels: [] },
    );
    t.regex(who.trust.providers.find((p) => p.provider === 'notation')!.reason, /no Notation signature/);

    const explained = await pald!.pal('explain', names['legacy']!, 'billing-key', '--json');
    const ex = JSON.parse(explained.stdout) as { allow: boolean; trust: Provenance };
    t.true(ex.allow);
    t.deepEqual(ex.trust.grantedBy, { billing: ['cosign'] });
    t.regex(JSON.stringify(ex.trust.providers), /"provider":"notation","state":"unsigned"/);
    const human = await pald!.pal('explain', names['legacy']!, 'billing-key');
    t.regex(human.stdout, /labels \[billing\(cosign\)\]/);
    t.regex(human.stdout, /^ {2}notation: unsigned, labels \[\] — .*no Notation signature/m);

    const listed = JSON.parse((await pald!.pal('containers', '--json')).stdout) as ({ name: string } & Provenance)[];
    const bundle = listed.find((c) => c.name === names['bundle'])!;
    t.deepEqual(bundle.grantedBy, { billing: ['cosign'], ops: ['notation'] });
    t.like(
      bundle.providers.find((p) => p.provider === 'notation'),
      { droppedLabels: ['root-access'] },
    );
    // The label outside notation's grants is dropped and logged by pald, not only shown.
    t.regex(pald!.output(), /not granted to .*root-access/);
    const table = (await pald!.pal('containers')).stdout;
    t.regex(table, /billing\(cosign\),ops\(notation\)/);
  },
);

test.serial('a container of a legacy .sig signed image reads its secret', async (t) => {
  const r = await exec(names['legacy']!, 'cat', '/run/pal/billing-key');
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, secretText);
});

test.serial('unsigned and wrongly signed images are denied, with the reason in the audit log', async (t) => {
  for (const c of [names['unsigned']!, names['wrong']!]) {
    const r = await exec(c, 'cat', '/run/pal/billing-key');
    t.not(r.code, 0);
    t.false(r.stdout.includes(secretText));
  }
  const log = await waitFor('both denials in the audit log', async () => {
    const text = await readFile(pald!.auditPath, 'utf8');
    return /no cosign signature/.test(text) && /does not verify with any pinned key/.test(text) ? text : undefined;
  });
  t.false(log.includes(secretText));
  const explain = await pald!.pal('explain', names['wrong']!, 'billing-key');
  t.regex(explain.stdout, /does not verify with any pinned key/);
  const containers = await pald!.pal('containers');
  t.regex(containers.stdout, /cosign/);
});

test.serial(
  'registry down: a verified container keeps its labels past the re-check, an unseen image is denied, and both work once it is back, without restarting pald',
  async (t) => {
    const whoami = async (c: string) =>
      JSON.parse((await exec(c, 'cat', '/run/pal/.pal/whoami.json')).stdout) as {
        labels: string[];
        trust: { state: string; reason: string };
      };
    t.is((await exec(names['bundle']!, 'cat', '/run/pal/billing-key')).stdout, secretText);
    const paldPid = pald!.pid;
    await reg!.stop();
    try {
      // recheck_ms is 1 s: once re-checked while the registry is down, the labels are kept, and said so.
      const kept = await waitFor('the verified container re-checked while the registry is down', async () => {
        const w = await whoami(names['bundle']!);
        return /kept from the last verification/.test(w.trust.reason) ? w : undefined;
      });
      t.deepEqual(kept.labels, ['billing', 'ops']);
      t.is((await exec(names['bundle']!, 'cat', '/run/pal/billing-key')).stdout, secretText);
      names['late'] = await run('cosign-late', lateImg!.ref);
      const denied = await exec(names['late'], 'cat', '/run/pal/billing-key');
      t.not(denied.code, 0);
      t.false(denied.stdout.includes(secretText));
      const w = await whoami(names['late']);
      t.is(w.trust.state, 'error');
      t.deepEqual(w.labels, []);
      t.regex(w.trust.reason, /no answer|unreachable|ECONNREFUSED|refused/i);
    } finally {
      await reg!.start();
    }
    const read = await waitFor('the unseen image to be verified once the registry is back', async () => {
      const r = await exec(names['late']!, 'cat', '/run/pal/billing-key');
      return r.code === 0 ? r : undefined;
    });
    t.is(read.stdout, secretText);
    t.is(pald!.pid, paldPid);
  },
);
