// Pre-attribution against a real private dockerd: a container is attributed on its start event,
// before any of its processes asks (the first open then finds the record), a die racing that
// inspect keeps its answer out of the cache, and a restart attributes the new init.

import test from 'ava';
import { randomUUID } from 'node:crypto';
import { createIdentityResolver, type ResolverWithDiagnostics } from '../../src/identity/index.js';
import { startDockerd, type TestDockerd } from '../../scripts/components/dockerd.js';
import { waitFor } from '../helpers/wait.js';

let dockerd: TestDockerd | undefined;
let resolver: ResolverWithDiagnostics | undefined;
let image = '';

test.before(async () => {
  dockerd = await startDockerd();
  image = await dockerd.importBusyboxImage('pal-preattr/a:1', { 'pal.labels': 'alpha' });
  resolver = createIdentityResolver({ dockerHost: dockerd.host });
  await waitFor('resolver connected to docker events', () => resolver!.status().reachable, {
    timeoutMs: 10_000,
    intervalMs: 20,
  });
});

test.after.always(async () => {
  await resolver?.close();
  await dockerd?.cleanup();
});

const listed = (id: string): boolean => resolver!.containers().some((c) => c.containerId === id);

async function run(name: string): Promise<string> {
  return dockerd!.docker('run', '-d', '--network', 'none', '--name', name, image, 'sleep', '3600');
}

async function initPid(id: string): Promise<number> {
  return Number(await dockerd!.docker('inspect', '-f', '{{.State.Pid}}', id));
}

test.serial('a started container is attributed before any of its processes asks', async (t) => {
  const name = `preattr-${randomUUID().slice(0, 8)}`;
  const id = await run(name);
  // Nothing has asked about this container: only its start event can have put it there.
  await waitFor('pre-attributed', () => listed(id), { timeoutMs: 10_000, intervalMs: 10 });
  const who = await resolver!.resolve({ pid: await initPid(id), uid: 0, gid: 0 });
  t.like(who, { kind: 'container', containerId: id, name, imageId: image });
  t.deepEqual(who.imageLabels, { 'pal.labels': 'alpha' });
  await dockerd!.docker('rm', '-f', id);
  await waitFor('dropped on die/destroy', () => !listed(id), { timeoutMs: 10_000, intervalMs: 10 });
});

test.serial('a container killed right after its start is not left cached', async (t) => {
  const doomed = await run(`preattr-doomed-${randomUUID().slice(0, 8)}`);
  await dockerd!.docker('kill', doomed);
  // Events arrive in order: once a later container's start has been handled, the die of the
  // doomed one was too, and its pre-attribution can no longer be cached (stale-inspect guard).
  const later = await run(`preattr-later-${randomUUID().slice(0, 8)}`);
  await waitFor('later container pre-attributed', () => listed(later), { timeoutMs: 10_000, intervalMs: 10 });
  t.false(listed(doomed));
  await dockerd!.docker('rm', '-f', doomed, later);
});

test.serial('a restarted container is attributed again with its new init', async (t) => {
  const name = `preattr-restart-${randomUUID().slice(0, 8)}`;
  const id = await run(name);
  await waitFor('pre-attributed', () => listed(id), { timeoutMs: 10_000, intervalMs: 10 });
  const before = await initPid(id);
  await dockerd!.docker('restart', '-t', '0', id);
  const after = await initPid(id);
  t.not(after, before);
  await waitFor('attributed again', () => listed(id), { timeoutMs: 10_000, intervalMs: 10 });
  t.like(await resolver!.resolve({ pid: after, uid: 0, gid: 0 }), { kind: 'container', containerId: id, name });
  await dockerd!.docker('rm', '-f', id);
});
