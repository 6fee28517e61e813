// docker/compose.yaml grants pald exactly the privileges docker/pald.Dockerfile documents (the
// docker-image integration test runs pald with those), and the app follows pald's mount.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');

interface Bind {
  type?: string;
  source?: string;
  target?: string;
  read_only?: boolean;
  bind?: { propagation?: string };
}
interface Service {
  image?: string;
  entrypoint?: string[];
  network_mode?: string;
  depends_on?: string[] | Record<string, unknown>;
  pid?: string;
  privileged?: boolean;
  devices?: string[];
  cap_drop?: string[];
  cap_add?: string[];
  volumes?: (string | Bind)[];
  build?: { dockerfile?: string };
}

async function services(): Promise<Record<string, Service>> {
  return (parse(await readFile(join(REPO, 'docker/compose.yaml'), 'utf8')) as { services: Record<string, Service> })
    .services;
}

test('pald: host pid namespace, /dev/fuse, CAP_SYS_ADMIN only, never privileged', async (t) => {
  const pald = (await services())['pald']!;
  t.is(pald.build?.dockerfile, 'docker/pald.Dockerfile');
  t.is(pald.pid, 'host');
  t.not(pald.privileged, true);
  t.deepEqual(pald.devices, ['/dev/fuse']);
  t.deepEqual(pald.cap_drop, ['ALL']);
  t.deepEqual(pald.cap_add, ['SYS_ADMIN']);
});

test('pald: docker socket and /etc/pal read-only, /run/pal rshared; the app binds it ro,rslave', async (t) => {
  const all = await services();
  const volumes = all['pald']!.volumes ?? [];
  t.true(volumes.includes('/var/run/docker.sock:/var/run/docker.sock:ro'));
  t.true(volumes.includes('/etc/pal:/etc/pal:ro'));
  const runPal = volumes.find((v): v is Bind => typeof v !== 'string' && v.target === '/run/pal');
  t.is(runPal?.bind?.propagation, 'rshared');
  const app = (all['app']!.volumes ?? []).find((v): v is Bind => typeof v !== 'string' && v.target === '/run/pal');
  t.is(app?.source, '/run/pal');
  t.true(app?.read_only);
  t.is(app?.bind?.propagation, 'rslave');
});

test("pald-holder: its own container from pald's image, no capability or device, sharing /run/pald with pald", async (t) => {
  const all = await services();
  const holder = all['pald-holder']!;
  t.is(holder.image, 'pald');
  t.deepEqual(holder.entrypoint, ['/usr/local/lib/pal/pald-holder', '/run/pald/holder.sock']);
  t.deepEqual(holder.cap_drop, ['ALL']);
  t.is(holder.cap_add, undefined);
  t.is(holder.devices, undefined);
  t.not(holder.pid, 'host');
  t.not(holder.privileged, true);
  t.is(holder.network_mode, 'none');
  t.deepEqual(holder.volumes, ['/run/pald:/run/pald']);
  t.true(
    (all['pald']!.volumes ?? []).includes('/run/pald:/run/pald'),
    'pald reaches holder.sock next to its admin socket',
  );
  const deps = all['pald']!.depends_on;
  t.true(Array.isArray(deps) ? deps.includes('pald-holder') : deps !== undefined && 'pald-holder' in deps);
  const dockerfile = await readFile(join(REPO, 'docker/pald.Dockerfile'), 'utf8');
  t.regex(dockerfile, /^COPY --from=build \S+\/pald-holder \/usr\/local\/lib\/pal\/pald-holder$/m);
});
