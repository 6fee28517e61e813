// podman through its Docker-compatible API socket (`podman system service`), with pald's existing
// Docker client: a container whose image holds the label reads; one without is denied. The
// containers' cgroups have podman's shape (/libpod_parent/libpod-<id> with cgroupfs).

import test from 'ava';
import { readFile } from 'node:fs/promises';
import { podmanInstalled, startPodman, type TestPodman } from '../helpers/podman.js';
import { startPald, type TestPald } from '../helpers/pald.js';

const SECRET = 'podman-secret-plaintext-5be1';

let podman: TestPodman | undefined;
let pald: TestPald | undefined;

test.before(async () => {
  if (!podmanInstalled()) throw new Error('podman is not installed (scripts/install-deps.sh installs it)');
  podman = await startPodman();
  await podman.importBusyboxImage('localhost/paltest-billing:1', { 'pal.labels': 'billing' });
  await podman.importBusyboxImage('localhost/paltest-plain:1');
  pald = await startPald({ dockerHost: podman.host });
  await pald.seal('billing-key', ['billing'], SECRET);
});

test.after.always(async () => {
  await podman?.cleanup();
  await pald?.cleanup();
});

async function run(name: string, image: string): Promise<string> {
  // This machine's hard RLIMIT_NOFILE and RLIMIT_NPROC are below podman's defaults (1048576 and
  // its own nproc): runc may not raise them, so ask for less.
  return podman!.podman(
    'run',
    '-d',
    '--ulimit',
    'nofile=1024:1024',
    '--ulimit',
    'nproc=1024:1024',
    '--network',
    'none',
    '--name',
    name,
    '-v',
    `${pald!.mountpoint}:/run/pal:ro,rslave`,
    image,
    '/bin/sleep',
    '600',
  );
}

test.serial('podman: a container whose image holds the label reads; one without is denied', async (t) => {
  const allowed = await run('pal-allowed', 'localhost/paltest-billing:1');
  const denied = await run('pal-denied', 'localhost/paltest-plain:1');

  const pid = await podman!.podman('inspect', '-f', '{{.State.Pid}}', allowed);
  t.regex(await readFile(`/proc/${pid}/cgroup`, 'utf8'), new RegExp(`libpod-${allowed}`));

  t.is(await podman!.podman('exec', allowed, 'cat', '/run/pal/billing-key'), SECRET);
  const refused = await podman!.podman('exec', denied, 'cat', '/run/pal/billing-key').then(
    (out) => ({ ok: true, out }),
    (err: Error) => ({ ok: false, out: err.message }),
  );
  t.false(refused.ok);
  t.false(refused.out.includes(SECRET));

  const whoami = JSON.parse(await podman!.podman('exec', allowed, 'cat', '/run/pal/.pal/whoami.json')) as {
    kind: string;
    container: { id: string; name: string };
    labels: string[];
  };
  t.like(whoami, { kind: 'container', container: { id: allowed, name: 'pal-allowed' }, labels: ['billing'] });
});
