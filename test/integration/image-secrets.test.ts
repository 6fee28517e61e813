// Secrets that travel with the image, with real dockerd, real FUSE and real openpgp: an image built
// with `COPY pal/ /etc/pal/` from `pal seal --image-manifest` output serves its secret to its own
// labelled containers only; a malformed or symlinked image manifest is refused with a reason.

import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDockerd, type TestDockerd } from '../../scripts/components/dockerd.js';
import { startPald, runCommand, PAL_JS, type TestPald } from '../helpers/pald.js';
import { waitFor } from '../helpers/wait.js';
import { scanSavedImage } from '../helpers/image-scan.js';
import { buildImage, runWithPal, execIn } from '../helpers/pal-container.js';

const appText = `image-secret-${randomBytes(24).toString('hex')}`;
const hostText = `host-secret-${randomBytes(16).toString('hex')}`;

let dockerd: TestDockerd | undefined;
let pald: TestPald | undefined;
let ctx = '';
const containers: string[] = [];

/** `docker build` of a context holding `pal/` (what `pal seal --image-manifest` wrote) on a local base. */
async function build(tag: string, palDir: string, labels: string): Promise<void> {
  const dir = await mkdtemp(join(ctx, 'build-'));
  await runCommand('cp', ['-a', palDir, join(dir, 'pal')]);
  const label = labels === '' ? '' : `LABEL pal.labels=${JSON.stringify(labels)}\n`;
  await writeFile(join(dir, 'Dockerfile'), `FROM pal-img/base:1\n${label}COPY pal/ /etc/pal/\n`);
  await buildImage(dockerd!, tag, dir);
}

async function run(name: string, image: string, ...extra: string[]): Promise<string> {
  await runWithPal(dockerd!, pald!.mountpoint, name, image, ...extra);
  containers.push(name);
  return name;
}

function exec(container: string, ...cmd: string[]) {
  return execIn(dockerd!, container, ...cmd);
}

test.before(async () => {
  ctx = await mkdtemp(join(tmpdir(), 'pal-img-'));
  dockerd = await startDockerd();
  await dockerd.importBusyboxImage('pal-img/base:1');
  await dockerd.importBusyboxImage('pal-img/other:1', { 'pal.labels': 'app' });
  pald = await startPald({ dockerHost: dockerd.host });
  await pald.seal('host-secret', ['app'], hostText);

  // The image's secrets: sealed with pald's public key into a directory the Dockerfile copies.
  const good = join(ctx, 'good');
  const sealed = await runCommand(
    process.execPath,
    [PAL_JS, 'seal', '--name', 'app.tar.gz', '--label', 'app', '--key', pald.publicKey, '--image-manifest', good],
    { input: appText },
  );
  if (sealed.code !== 0) throw new Error(`pal seal: ${sealed.stderr}`);
  await build('pal-img/app:1', good, 'app');
  await build('pal-img/unlabelled:1', good, '');
  await build('pal-img/app-volume:1', good, 'app,volume');

  // An image that relabels a ciphertext in its manifest, and one that names a host secret.
  const relabel = join(ctx, 'relabel');
  for (const [name, labels, text] of [
    ['narrow', ['app', 'billing'], 'narrow-plaintext'],
    ['host-secret', ['app'], 'image-impostor'],
  ] as const) {
    const r = await runCommand(
      process.execPath,
      [PAL_JS, 'seal', '--name', name, ...labels.flatMap((l) => ['--label', l]), '--key', pald.publicKey].concat([
        '--image-manifest',
        relabel,
      ]),
      { input: text },
    );
    if (r.code !== 0) throw new Error(`pal seal ${name}: ${r.stderr}`);
  }
  await writeFile(
    join(relabel, 'secrets.yaml'),
    'secrets:\n  narrow: { file: narrow.pgp, labels: [app] }\n  host-secret: { file: host-secret.pgp, labels: [app] }\n',
  );
  await build('pal-img/relabel:1', relabel, 'app');

  const garbage = join(ctx, 'garbage');
  await mkdir(garbage);
  await writeFile(join(garbage, 'secrets.yaml'), 'secrets: [this, is, not, a, mapping]\n');
  await build('pal-img/garbage:1', garbage, 'app');

  const linked = join(ctx, 'linked');
  await mkdir(linked);
  await symlink('/etc/shadow', join(linked, 'secrets.yaml'));
  await build('pal-img/linked:1', linked, 'app');
});

test.after.always(async () => {
  for (const c of containers) await dockerd?.docker('rm', '-f', c).catch(() => {});
  await pald?.cleanup();
  await dockerd?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});

test.serial('a labelled container of the image reads the secret its image carries', async (t) => {
  const c = await run('img-app', 'pal-img/app:1');
  const r = await exec(c, 'cat', '/run/pal/app.tar.gz');
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, appText);
  const ls = await exec(c, 'ls', '/run/pal');
  t.deepEqual(ls.stdout.trim().split(/\s+/).sort(), ['app.tar.gz', 'host-secret']);
});

test.serial('pal secrets and pal explain show the secret with its image of origin', async (t) => {
  // img-app (the test above) made pald read pal-img/app:1's /etc/pal.
  const imageId = (await dockerd!.docker('image', 'inspect', '-f', '{{.Id}}', 'pal-img/app:1')).trim();
  const listed = await pald!.pal('secrets', '--json');
  t.is(listed.code, 0, listed.stderr);
  const rows = JSON.parse(listed.stdout) as Array<{ name: string; origin: string }>;
  t.true(
    rows.some((r) => r.name === 'app.tar.gz' && r.origin === imageId),
    listed.stdout,
  );
  t.true(rows.some((r) => r.name === 'host-secret' && r.origin === 'host'));
  t.false(listed.stdout.includes(appText));
  const table = await pald!.pal('secrets');
  t.regex(table.stdout, new RegExp(`^app\\.tar\\.gz .*image ${imageId.slice(0, 19)}$`, 'm'));

  const allowed = await pald!.pal('explain', 'img-app', 'app.tar.gz');
  t.is(allowed.code, 0, allowed.stdout + allowed.stderr);
  t.regex(allowed.stdout, /decision {3}ALLOW/);
  t.true(allowed.stdout.includes(`(carried by image ${imageId})`), allowed.stdout);
  const other = await run('img-explain-other', 'pal-img/other:1');
  const denied = await pald!.pal('explain', other, 'app.tar.gz');
  t.is(denied.code, 1);
  t.regex(denied.stdout, /no secret named app\.tar\.gz in the manifest or in the container's image/);
});

test.serial('a container of another image with the same labels does not see it', async (t) => {
  const c = await run('img-other', 'pal-img/other:1');
  const r = await exec(c, 'cat', '/run/pal/app.tar.gz');
  t.not(r.code, 0);
  t.false(r.stdout.includes(appText));
  t.is((await exec(c, 'cat', '/run/pal/host-secret')).stdout, hostText);
});

test.serial('a container of the image without its labels is denied', async (t) => {
  const c = await run('img-unlabelled', 'pal-img/unlabelled:1');
  const r = await exec(c, 'cat', '/run/pal/app.tar.gz');
  t.not(r.code, 0);
  t.false(r.stdout.includes(appText));
  const ls = await exec(c, 'ls', '/run/pal');
  t.false(ls.stdout.includes('app.tar.gz'));
});

test.serial('a malformed image manifest is refused with a reason; the host secrets keep working', async (t) => {
  const c = await run('img-garbage', 'pal-img/garbage:1');
  t.is((await exec(c, 'cat', '/run/pal/host-secret')).stdout, hostText);
  await waitFor('the refusal in the log and the audit log', async () => {
    const audit = await readFile(pald!.auditPath, 'utf8').catch(() => '');
    return /must be a mapping/.test(pald!.output()) && /image-manifest.*must be a mapping/.test(audit);
  });
  t.pass();
});

test.serial('a symlinked /etc/pal/secrets.yaml is refused, never followed', async (t) => {
  const c = await run('img-linked', 'pal-img/linked:1');
  t.is((await exec(c, 'cat', '/run/pal/host-secret')).stdout, hostText);
  const ls = await exec(c, 'ls', '/run/pal');
  t.deepEqual(ls.stdout.trim().split(/\s+/).sort(), ['host-secret']);
  await waitFor('the symlink refusal in the log', () =>
    Promise.resolve(/secrets\.yaml is a symlink: only regular files/.test(pald!.output())),
  );
  t.pass();
});

test.serial('a ciphertext relabelled in the image manifest is refused: the sealed labels win', async (t) => {
  const c = await run('img-relabel', 'pal-img/relabel:1');
  const r = await exec(c, 'cat', '/run/pal/narrow');
  t.not(r.code, 0);
  t.false(r.stdout.includes('narrow-plaintext'));
  await waitFor('the sealed-labels denial in the audit log', async () =>
    /"secret":"narrow".*"decision":"deny".*billing/.test(await readFile(pald!.auditPath, 'utf8').catch(() => '')),
  );
  t.pass();
});

test.serial('a host manifest secret of the same name wins, and the clash is reported', async (t) => {
  const c = await run('img-clash', 'pal-img/relabel:1');
  t.is((await exec(c, 'cat', '/run/pal/host-secret')).stdout, hostText);
  await waitFor('the clash in the log', () =>
    Promise.resolve(/carries secret "host-secret", which the host manifest also names/.test(pald!.output())),
  );
  t.pass();
});

test.serial("the image's /etc/pal is read, not what the first container mounts or writes there", async (t) => {
  const fake = join(ctx, 'fake-etc-pal');
  await mkdir(fake);
  await writeFile(join(fake, 'secrets.yaml'), 'secrets: [mounted, over]\n');
  const c = await run('img-volume', 'pal-img/app-volume:1', '-v', `${fake}:/etc/pal:ro`);
  const r = await exec(c, 'cat', '/run/pal/app.tar.gz');
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, appText);
});

/** The plaintext, and its base64 at each of the three alignments it could have inside a larger text. */
function plaintextForms(label: string, text: string): Map<string, Buffer> {
  const forms = new Map([[`${label} plaintext`, Buffer.from(text)]]);
  for (let k = 0; k < 3; k++) {
    const b64 = Buffer.from(text.slice(k)).toString('base64');
    forms.set(`${label} base64@${k}`, Buffer.from(b64.slice(0, b64.length - 4)));
  }
  return forms;
}

test.serial('`docker save` of the image holds no plaintext: every layer scanned, decompressed if needed', async (t) => {
  // The scan must be able to fail: a canary put in an image in clear is found, in its layer.
  const canary = `canary-${randomBytes(24).toString('hex')}`;
  const leaky = join(ctx, 'leaky');
  await mkdir(leaky);
  await writeFile(join(leaky, 'notes.txt'), `config\n${Buffer.from(`x${canary}`).toString('base64')}\n${canary}\n`);
  await build('pal-img/leaky:1', leaky, '');
  const control = await scanSavedImage(dockerd!.host, 'pal-img/leaky:1', plaintextForms('canary', canary));
  t.true(
    control.hits.some((h) => h.startsWith('canary plaintext in ') && h.endsWith('!etc/pal/notes.txt')),
    String(control.hits),
  );
  t.true(
    control.hits.some((h) => h.startsWith('canary base64@')),
    String(control.hits),
  );

  const scan = await scanSavedImage(dockerd!.host, 'pal-img/app:1', plaintextForms('secret', appText));
  t.deepEqual(scan.hits, []);
  t.true(scan.layerPaths.has('etc/pal/app.tar.gz.pgp'), 'the layer holding the ciphertext was scanned');
  t.true(scan.layerPaths.has('etc/pal/secrets.yaml'));
  t.true(scan.archives >= 2, 'the outer archive and at least one layer');
});
