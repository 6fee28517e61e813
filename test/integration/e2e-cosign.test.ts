// End to end with cosign signatures: real docker-registry, real dockerd (images pushed, so the runtime
// knows their repo digests), real pald with trust.mode signed + trust.cosign, real FUSE. A container of
// a cosign-signed image (v3 bundle, and legacy .sig) reads its secret; an unsigned image and one signed
// with another key are denied, with the reason in the audit log.
import test from 'ava';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { signBundle, signLegacy } from '../helpers/cosign-craft.js';
import { startDockerd, type TestDockerd } from '../helpers/dockerd.js';
import { startPald, type TestPald } from '../helpers/pald.js';
import { waitFor } from '../helpers/wait.js';
import { runWithPal, execIn } from '../helpers/pal-container.js';
import { startRegistry, type Descriptor, type TestRegistry } from '../helpers/registry.js';

const secretText = `cosign-e2e-${randomBytes(16).toString('hex')}`;
let reg: TestRegistry | undefined;
let dockerd: TestDockerd | undefined;
let pald: TestPald | undefined;
let keyDir = '';
const names: Record<string, string> = {};

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
  const legacyImg = await pushed('pal/legacy');
  await signLegacy(reg, 'pal/legacy', legacyImg.manifest, key.priv, { annotations: { 'pal.labels': 'billing' } });
  const unsignedImg = await pushed('pal/unsigned');
  const wrongImg = await pushed('pal/wrongkey');
  await signBundle(reg, 'pal/wrongkey', wrongImg.manifest, other.priv, { annotations: { 'pal.labels': 'billing' } });

  pald = await startPald({
    dockerHost: dockerd.host,
    trust: {
      mode: 'signed',
      cosign: { policies: [{ repository: `${reg.host}/pal/*`, keys: [pubFile], grants: ['billing'] }] },
      registries: { [reg.host]: { insecure: true } },
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
    trust: { state: string; provider: string; reason: string };
  };
  t.deepEqual(who.labels, ['billing']);
  t.is(who.trust.state, 'verified');
  t.is(who.trust.provider, 'cosign');
});

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
