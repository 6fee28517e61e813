// pal demo (README's first command: `npm run demo`, which installs and builds, then runs this as root).
// Three tiny images, three containers, one pald, labels from two kinds of signatures side by side:
//   app     signed with Notary v1 (the seed's provider) for label `demo`   → reads db-password
//   billing signed with cosign v3 (bundle as an OCI 1.1 referrer), label `billing` → reads api-token
//   other   claims `pal.labels=demo` in its image config, signed by nobody → reads nothing
// The real components (a private dockerd unless one is reachable, notary-server, docker-registry) are
// started on loopback by the same code the tests and the bench use (scripts/components), and everything
// the demo started is stopped by pid and removed at the end, also on Ctrl-C. PAL_DEMO_TRUST=none runs
// the same scenario in the unsigned development mode (labels from image configs, no signers).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { startDockerd, useDockerEngine, type DockerEngine } from '../components/dockerd.js';
import { removeDir, startNotaryServer } from '../components/notary.js';
import { unmountUnder } from '../components/mounts.js';
import { startRegistry } from '../components/registry.js';
import { note, say, show } from './console.js';
import { startDemoPald } from './pald.js';
import { signWithCosign, signWithNotary } from './sign.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const PAL = path.join(REPO, 'dist/src/cli/pal.js');
const GUN = 'registry.example.com/pal-demo/app';
/** The engine the docker CLI would use; the demo starts a private one only if this one does not answer. */
const USUAL_DOCKER_HOST = process.env['DOCKER_HOST'] ?? 'unix:///var/run/docker.sock';

const cleanups: Array<{ what: string; run: () => Promise<unknown> }> = [];
function onCleanup(what: string, run: () => Promise<unknown>): void {
  cleanups.push({ what, run });
}

/** Undo everything, last started first; a failing step is reported and the rest still runs. */
async function cleanUp(): Promise<void> {
  if (cleanups.length === 0) return;
  say('Cleaning up');
  for (const step of cleanups.splice(0).reverse()) {
    await step.run().catch((err: unknown) => note(`cleanup of ${step.what}: ${String(err)}`));
  }
  note('done.');
}

async function dockerEngine(): Promise<DockerEngine> {
  try {
    const engine = await useDockerEngine(USUAL_DOCKER_HOST);
    note(`using the Docker engine at ${USUAL_DOCKER_HOST}`);
    return engine;
  } catch {
    note('no Docker engine reachable: starting a private dockerd');
    const engine = await startDockerd();
    note(`private dockerd at ${engine.host} (pid ${engine.pid})`);
    return engine;
  }
}

interface Trust {
  /** pald.yaml's `trust` section. */
  readonly yaml: Record<string, unknown>;
  /** The image the cosign-signed container runs (by tag). */
  readonly billingRef: string;
}

/** Signs app (Notary) and billing (cosign), and returns the matching pald.yaml trust section. */
async function signImages(engine: DockerEngine, work: string, tag: string, appId: string): Promise<Trust> {
  say('Notary v1: signing the app image id with a throwaway notary-server');
  const notary = await startNotaryServer();
  onCleanup('notary-server', async () => {
    await notary.stop();
    await removeDir(notary.dir);
  });
  const { rootKeyId } = await signWithNotary(notary, GUN, tag, appId, ['demo']);

  say('cosign v3: pushing the billing image to a throwaway registry and signing its digest');
  const reg = await startRegistry();
  onCleanup('docker-registry', () => reg.destroy());
  const billingRef = `${reg.host}/pal-demo/billing:${tag}`;
  await engine.importBusyboxImage(billingRef);
  onCleanup(`image ${billingRef}`, () => engine.docker('rmi', '-f', billingRef));
  note(`${billingRef}   no labels in its image config: its label comes from the signature`);
  const cosign = await signWithCosign(engine, reg, billingRef, ['billing'], path.join(work, 'etc/pal/cosign'));
  return {
    billingRef,
    yaml: {
      mode: 'signed',
      notary: {
        server: notary.url,
        ca: notary.pki.caPath,
        collections: [{ gun: 'registry.example.com/pal-demo/*', root_keys: [rootKeyId], grants: ['demo'] }],
      },
      cosign: {
        policies: [{ repository: `${reg.host}/pal-demo/*`, keys: [cosign.publicKeyFile], grants: ['billing'] }],
      },
      registries: { [reg.host]: { insecure: true } },
    },
  };
}

async function main(): Promise<void> {
  const signed = process.env['PAL_DEMO_TRUST'] !== 'none';
  const work = mkdtempSync('/tmp/pal-demo.');
  onCleanup('work dir', async () => {
    // pald leaves its staging bind mount (next to the admin socket) and the mountpoint's layers behind.
    unmountUnder(work);
    rmSync(work, { recursive: true, force: true });
  });
  const etc = path.join(work, 'etc/pal');
  const mountpoint = path.join(work, 'run/pal');
  const tag = path
    .basename(work)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '-');

  say('Docker');
  const engine = await dockerEngine();
  onCleanup('docker engine', () => engine.cleanup());
  const docker = (args: string[], opts: Parameters<typeof show>[2] = {}) =>
    show('docker', ['-H', engine.host, ...args], { display: `docker ${args.join(' ')}`, ...opts });
  if (engine.host !== USUAL_DOCKER_HOST) note(`(below, docker = docker -H ${engine.host})`);

  say('Building tiny images from busybox-static (docker import: nothing is pulled)');
  const appRef = `${GUN}:${tag}`;
  const otherRef = `registry.example.com/pal-demo/other:${tag}`;
  const appId = await engine.importBusyboxImage(appRef, { 'pal.labels': 'demo' });
  onCleanup(`image ${appRef}`, () => engine.docker('rmi', '-f', appRef));
  // It claims the label too, but nobody signed it: with trust.mode signed a claim grants nothing.
  await engine.importBusyboxImage(otherRef, signed ? { 'pal.labels': 'demo' } : {});
  onCleanup(`image ${otherRef}`, () => engine.docker('rmi', '-f', otherRef));
  note(`${appRef}   image config label pal.labels=demo${signed ? ' (will be signed with Notary)' : ''}`);
  note(`${otherRef} ${signed ? 'image config label pal.labels=demo (NOT signed)' : '(no labels)'}`);

  let trust: Trust;
  if (signed) {
    trust = await signImages(engine, work, tag, appId);
  } else {
    const billingRef = `registry.example.com/pal-demo/billing:${tag}`;
    await engine.importBusyboxImage(billingRef, { 'pal.labels': 'billing' });
    onCleanup(`image ${billingRef}`, () => engine.docker('rmi', '-f', billingRef));
    note(`${billingRef} image config label pal.labels=billing`);
    trust = { billingRef, yaml: { mode: 'none' } };
  }

  say('A host key pair, and two secrets: db-password for label demo, api-token for label billing');
  mkdirSync(path.join(etc, 'keys'), { recursive: true });
  const pal = (args: string[], opts: Parameters<typeof show>[2] = {}) =>
    show(process.execPath, [PAL, ...args], { display: `pal ${args.join(' ')}`, ...opts });
  await pal(['keygen', '--out', path.join(etc, 'keys'), '--name', 'demo-host']);
  const manifest = path.join(etc, 'secrets.yaml');
  const secrets = { 'db-password': 'demo', 'api-token': 'billing' } as const;
  const values = new Map<string, string>();
  for (const [name, label] of Object.entries(secrets)) {
    values.set(name, `s3cr3t-${name}-${randomBytes(12).toString('hex')}`);
    const pub = path.join(etc, 'keys/demo-host.pub.asc');
    const args = ['seal', '--name', name, '--label', label, '--key', pub, '--manifest', manifest];
    await show(process.execPath, [PAL, ...args], {
      display: `printf %s "$SECRET" | pal ${args.join(' ')}`,
      input: values.get(name)!,
    });
  }
  await show('cat', [manifest], { display: `cat ${manifest}   # ciphertext and policy, never plaintext` });

  say('Starting pald');
  const config = {
    mountpoint,
    manifest,
    keys: path.join(etc, 'keys'),
    docker: { host: engine.host },
    trust: trust.yaml,
    admin: { socket: path.join(work, 'run/pald/admin.sock') },
    audit: { path: path.join(work, 'log/audit.log') },
    state_dir: path.join(work, 'state'),
  };
  const configFile = path.join(etc, 'pald.yaml');
  writeFileSync(configFile, stringify(config));
  note(
    signed
      ? 'trust.mode: signed: labels only from Notary targets under the pinned root key and from cosign signatures verified with the pinned key'
      : '!! trust.mode: none: DEVELOPMENT MODE: container labels are NOT verified by signatures here.',
  );
  await show('cat', [configFile]);
  const pald = await startDemoPald(REPO, configFile, mountpoint, work);
  onCleanup('pald', () => pald.stop());
  const admin = ['--admin-socket', config.admin.socket];

  const started: string[] = [];
  const runContainer = async (kind: string, ref: string): Promise<string> => {
    const name = `pal-demo-${kind}-${tag}`;
    await engine.docker('run', '-d', '--name', name, '--network', 'none', '-v', `${mountpoint}:/run/pal:ro,rslave`, ref, 'sleep', '600'); // prettier-ignore
    started.push(name);
    note(`$ docker run -d --name ${name} --network none -v ${mountpoint}:/run/pal:ro,rslave ${ref} sleep 600`);
    return name;
  };
  onCleanup('containers', async () => {
    for (const name of started) await engine.docker('rm', '-f', name).catch(() => '');
  });
  const reads = async (container: string, secret: string): Promise<void> => {
    note(`$ docker exec ${container} cat /run/pal/${secret}`);
    const text = await engine.docker('exec', container, 'cat', `/run/pal/${secret}`);
    note(text);
    if (text !== values.get(secret)) throw new Error(`demo: ${container} read something else than ${secret}`);
  };
  const denied = async (container: string, secret: string): Promise<void> => {
    await docker(['exec', container, 'cat', `/run/pal/${secret}`], { expect: 'fail' });
    note('(denied, as it should be)');
  };

  say(`The ${signed ? 'Notary-signed' : 'labelled'} app container reads db-password`);
  const app = await runContainer('app', appRef);
  await docker(['exec', app, 'ls', '-l', '/run/pal']);
  await reads(app, 'db-password');
  await docker(['exec', app, 'cat', '/run/pal/.pal/whoami.json']);
  process.stdout.write('\n');
  await denied(app, 'api-token');

  say(`The ${signed ? 'cosign-signed' : 'labelled'} billing container reads api-token`);
  const billing = await runContainer('billing', trust.billingRef);
  await docker(['exec', billing, 'ls', '-l', '/run/pal']);
  await reads(billing, 'api-token');
  await docker(['exec', billing, 'cat', '/run/pal/.pal/whoami.json']);
  process.stdout.write('\n');
  await denied(billing, 'db-password');

  say(`The ${signed ? 'unsigned' : 'unlabelled'} container gets nothing`);
  const other = await runContainer('other', otherRef);
  await docker(['exec', other, 'ls', '-la', '/run/pal']);
  await denied(other, 'db-password');

  say('Inspecting pald: which provider granted which label');
  await pal(['status', ...admin]);
  await pal(['secrets', ...admin]);
  await pal(['containers', ...admin]);
  await pal(['audit', ...admin]);
  await pal(['explain', app, 'db-password', ...admin]);
  await pal(['explain', billing, 'api-token', ...admin]);
  await pal(['explain', other, 'db-password', ...admin], { expect: 'any' });
}

let exiting = false;
function finish(code: number): void {
  if (exiting) return;
  exiting = true;
  void cleanUp().finally(() => process.exit(code));
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => finish(130));
main().then(
  () => finish(0),
  (err: unknown) => {
    // After a signal the clean-up pulls components from under the steps still running: not their fault.
    if (exiting) return;
    process.stderr.write(`\n${err instanceof Error ? err.message : String(err)}\n`);
    finish(1);
  },
);
