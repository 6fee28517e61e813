// End to end with Notation: a real dockerd pushes two images to a real docker-registry, one of them
// is signed the way `notation sign -m pal.labels=billing` stores it, and pald (trust.mode signed,
// trust.notation) gives the secret only to the container of the signed image.
import test from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NOTATION_ARTIFACT_TYPE } from '../../src/trust/notation/provider.js';
import { startDockerd, type TestDockerd } from '../../scripts/components/dockerd.js';
import { startPald, type TestPald } from '../helpers/pald.js';
import { waitFor } from '../helpers/wait.js';
import { runWithPal, execIn } from '../helpers/pal-container.js';
import { issue, makeJwsEnvelope } from '../helpers/notation-craft.js';
import { fetchManifest, pushReferrer, startRegistry, type TestRegistry } from '../../scripts/components/registry.js';

let dockerd: TestDockerd | undefined;
let pald: TestPald | undefined;
let reg: TestRegistry | undefined;
let dir: string | undefined;
const containers: string[] = [];
const secretText = 'notation-signed-secret';

async function run(name: string, image: string): Promise<string> {
  await runWithPal(dockerd!, pald!.mountpoint, name, image);
  containers.push(name);
  return name;
}

function exec(container: string, ...cmd: string[]) {
  return execIn(dockerd!, container, ...cmd);
}

/** docker push, then the manifest digest Docker recorded for that repository. */
async function pushed(ref: string): Promise<{ repo: string; digest: string }> {
  await dockerd!.docker('push', ref);
  const digests = JSON.parse(
    await dockerd!.docker('image', 'inspect', '--format', '{{json .RepoDigests}}', ref),
  ) as string[];
  const repo = ref.slice(0, ref.lastIndexOf(':'));
  const entry = digests.find((d) => d.startsWith(`${repo}@`));
  if (entry === undefined) throw new Error(`no repo digest for ${ref}: ${digests.join(', ')}`);
  return { repo, digest: entry.slice(repo.length + 1) };
}

test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pal-e2e-notation-'));
  reg = await startRegistry();
  dockerd = await startDockerd();
  const signedRef = `${reg.host}/billing/app:1`;
  const unsignedRef = `${reg.host}/billing/other:1`;
  await dockerd.importBusyboxImage(signedRef);
  await dockerd.importBusyboxImage(unsignedRef, { 'pal.labels': 'billing' });
  const signed = await pushed(signedRef);
  await pushed(unsignedRef);

  const root = await issue(dir, 'root', { subject: '/C=US/O=Acme/CN=Acme Root', profile: 'ca' });
  const leaf = await issue(dir, 'leaf', { subject: '/C=US/O=Acme/CN=billing-release', profile: 'leaf', issuer: root });
  await mkdir(path.join(dir, 'store'), { mode: 0o755 });
  await writeFile(path.join(dir, 'store', 'acme.pem'), root.certPem, { mode: 0o644 });
  const repoPath = signed.repo.slice(reg.host.length + 1);
  const manifest = (await fetchManifest(reg, repoPath, signed.digest))!;
  const mediaType = (JSON.parse(manifest.toString()) as { mediaType: string }).mediaType;
  const subject = { mediaType, digest: signed.digest, size: manifest.length };
  const envelope = makeJwsEnvelope({
    leaf,
    chain: [leaf, root],
    target: { ...subject, annotations: { 'pal.labels': 'billing' } },
  });
  await pushReferrer(reg, repoPath, subject, NOTATION_ARTIFACT_TYPE, [
    { mediaType: 'application/jose+json', bytes: envelope },
  ]);

  pald = await startPald({
    dockerHost: dockerd.host,
    trust: {
      mode: 'signed',
      notation: {
        policies: [
          {
            repository: `${reg.host}/billing/*`,
            trust_store: path.join(dir, 'store'),
            identities: ['x509.subject: C=US, O=Acme, CN=billing-release'],
            grants: ['billing'],
          },
        ],
      },
      registries: { [reg.host]: { insecure: true } },
    },
  });
  await pald.seal('billing-key', ['billing'], secretText);
  await waitFor('pald to load the secret', async () => {
    const r = await pald!.pal('secrets', '--json');
    return r.code === 0 && (JSON.parse(r.stdout) as unknown[]).length === 1;
  });
  await run('notation-signed', signedRef);
  await run('notation-unsigned', unsignedRef);
});

test.after.always(async () => {
  for (const c of containers) await dockerd?.docker('rm', '-f', c).catch(() => {});
  await pald?.cleanup();
  await dockerd?.cleanup();
  await reg?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the container of the Notation-signed image reads the secret; the unsigned one does not', async (t) => {
  const read = await waitFor('the signed container to read its secret', async () => {
    const r = await exec('notation-signed', 'cat', '/run/pal/billing-key');
    return r.code === 0 ? r : undefined;
  });
  t.is(read.stdout, secretText);
  const who = JSON.parse((await exec('notation-signed', 'cat', '/run/pal/.pal/whoami.json')).stdout) as {
    labels: string[];
    trust: { state: string; reason: string };
  };
  t.deepEqual(who.labels, ['billing']);
  t.is(who.trust.state, 'verified');
  t.regex(JSON.stringify(who.trust), /billing-release/);

  const denied = await exec('notation-unsigned', 'cat', '/run/pal/billing-key');
  t.not(denied.code, 0);
  const whoDenied = JSON.parse((await exec('notation-unsigned', 'cat', '/run/pal/.pal/whoami.json')).stdout) as {
    labels: string[];
    trust: { state: string };
  };
  t.deepEqual(whoDenied.labels, []);
  t.is(whoDenied.trust.state, 'unsigned');
  t.regex(JSON.stringify(whoDenied.trust), /no Notation signature/);
});
