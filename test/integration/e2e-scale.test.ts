// End to end: 50 containers reading the same sealed secret at once all get the exact bytes.

import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { startDockerd, type TestDockerd } from '../../scripts/components/dockerd.js';
import { startPald, runCommand, type TestPald } from '../helpers/pald.js';
import { waitFor } from '../helpers/wait.js';
import { runWithPal } from '../helpers/pal-container.js';

const COUNT = 50;
const payload = randomBytes(64 * 1024);
const digest = createHash('sha256').update(payload).digest('hex');

let dockerd: TestDockerd | undefined;
let pald: TestPald | undefined;
const containers: string[] = [];

async function inBatches<T>(items: readonly T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(work));
}

test.before(async () => {
  dockerd = await startDockerd();
  pald = await startPald({ dockerHost: dockerd.host });
  await pald.seal('shared', ['fleet'], payload);
});

test.after.always(async () => {
  await inBatches(containers, 10, (c) =>
    dockerd!.docker('rm', '-f', c).then(
      () => undefined,
      () => undefined,
    ),
  );
  await pald?.cleanup();
  await dockerd?.cleanup();
});

test('50 containers reading concurrently all get the exact bytes', async (t) => {
  const image = await dockerd!.importBusyboxImage('pal-e2e/fleet:1', { 'pal.labels': 'fleet' });
  await waitFor('the secret to be served', async () => {
    const r = await pald!.pal('secrets', '--json');
    return r.code === 0 && (JSON.parse(r.stdout) as unknown[]).length === 1;
  });
  const names = Array.from({ length: COUNT }, (_, i) => `fleet-${i}`);
  await inBatches(names, 10, async (name) => {
    await runWithPal(dockerd!, pald!.mountpoint, name, image);
    containers.push(name);
  });
  const results = await Promise.all(
    names.map((name) =>
      runCommand('docker', ['-H', dockerd!.host, 'exec', name, 'sha256sum', '/run/pal/shared'], { timeoutMs: 120_000 }),
    ),
  );
  const wrong = results
    .map((r, i) => ({ name: names[i], r }))
    .filter(({ r }) => r.code !== 0 || r.stdout.split(' ')[0] !== digest);
  t.deepEqual(
    wrong.map(({ name, r }) => `${name}: ${r.code} ${r.stdout} ${r.stderr}`),
    [],
  );
  const audit = JSON.parse((await pald!.pal('audit', '--json', '-n', '1000')).stdout) as {
    op: string;
    decision: string;
    secret?: string;
    container?: string;
  }[];
  const readers = new Set(
    audit.filter((e) => e.op === 'open' && e.decision === 'allow' && e.secret === 'shared').map((e) => e.container),
  );
  t.is(readers.size, COUNT, 'each container attributed separately');
});
