// Docker going away and coming back under a running resolver. The daemon runs with
// --live-restore, as production hosts often do, so that containers keep running while it is
// down: exactly when a caller from a container pald has never seen must be denied (fail closed).
// "Never seen" includes its start event (pre-attribution): that container starts before the resolver.

import test from 'ava';
import { createIdentityResolver, type ResolverWithDiagnostics } from '../../src/identity/index.js';
import { startDockerd, type TestDockerd } from '../../scripts/components/dockerd.js';
import { waitFor } from '../helpers/wait.js';

let dockerd: TestDockerd | undefined;
let resolver: ResolverWithDiagnostics | undefined;
const logs: string[] = [];
/** Started before the resolver existed: it never saw this container's start event. */
let unseen: { id: string; pid: number } | undefined;

test.before(async () => {
  dockerd = await startDockerd({ liveRestore: true });
  await dockerd.importBusyboxImage('pal-identity/restart:1', { 'pal.labels': 'r' });
  unseen = await run('restart-unseen');
  resolver = createIdentityResolver({ dockerHost: dockerd.host, log: (m) => logs.push(m) });
  await waitFor('resolver connected to docker events', () => resolver!.status().reachable, {
    timeoutMs: 10_000,
    intervalMs: 20,
  });
});

test.after.always(async () => {
  await resolver?.close();
  await dockerd?.cleanup();
});

function globalUnseen(): { id: string; pid: number } {
  if (unseen === undefined) throw new Error('the unseen container did not start');
  return unseen;
}

async function run(name: string): Promise<{ id: string; pid: number }> {
  const id = await dockerd!.docker(
    'run',
    '-d',
    '--network',
    'none',
    '--name',
    name,
    'pal-identity/restart:1',
    'sleep',
    '3600',
  );
  return { id, pid: Number(await dockerd!.docker('inspect', '-f', '{{.State.Pid}}', id)) };
}

test.serial(
  'docker stopped: an unseen container fails closed with a reason; back up: resolution works again',
  async (t) => {
    const seen = await run('restart-seen');
    // Started under the resolver and never asked about: attributed on its start event.
    const started = await run('restart-started');
    t.like(await resolver!.resolve({ pid: seen.pid, uid: 0, gid: 0 }), { kind: 'container', containerId: seen.id });
    await waitFor('start event attribution', () => resolver!.containers().some((c) => c.containerId === started.id), {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    const unseen = globalUnseen();

    await dockerd!.stop();
    await waitFor('resolver to notice docker is gone', () => !resolver!.status().reachable, {
      timeoutMs: 10_000,
      intervalMs: 20,
    });

    const denied = await resolver!.resolve({ pid: unseen.pid, uid: 0, gid: 0 });
    t.is(denied.kind, 'unknown');
    t.regex(
      denied.reason ?? '',
      new RegExp(`^docker unreachable at ${escape(dockerd!.host)}: connect (ENOENT|ECONNREFUSED)`),
    );
    t.false(resolver!.status().reachable);
    t.truthy(resolver!.status().reason);
    // Its container is alive (live-restore) and was verified before the outage: still served.
    t.like(await resolver!.resolve({ pid: seen.pid, uid: 0, gid: 0 }), { kind: 'container', containerId: seen.id });
    // So was the one attributed on its start event (the same inspect and checks, done earlier).
    t.like(await resolver!.resolve({ pid: started.pid, uid: 0, gid: 0 }), {
      kind: 'container',
      containerId: started.id,
    });

    await dockerd!.start();
    // Same resolver instance: it reconnects by itself (bounded by its capped backoff).
    await waitFor('resolver to reconnect to docker', () => resolver!.status().reachable, {
      timeoutMs: 15_000,
      intervalMs: 20,
    });
    t.like(await resolver!.resolve({ pid: unseen.pid, uid: 0, gid: 0 }), {
      kind: 'container',
      containerId: unseen.id,
      name: 'restart-unseen',
    });
    t.true(
      logs.some((l) => l.includes('disconnected')),
      'the outage is logged',
    );

    // Events flow again after the reconnect.
    const dropped: string[] = [];
    resolver!.onInvalidate((id) => dropped.push(id));
    await dockerd!.docker('rm', '-f', 'restart-unseen');
    await waitFor('invalidation after reconnect', () => dropped.includes(unseen.id), {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
  },
);

test.serial(
  'a cached container that died while docker was down is dropped, and its callers are not served',
  async (t) => {
    const doomed = await run('restart-doomed');
    t.like(await resolver!.resolve({ pid: doomed.pid, uid: 0, gid: 0 }), { kind: 'container', containerId: doomed.id });
    const dropped: string[] = [];
    resolver!.onInvalidate((id) => dropped.push(id));

    await dockerd!.stop();
    await waitFor('resolver to notice docker is gone', () => !resolver!.status().reachable, {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    // The container's init dies with no dockerd to report it.
    process.kill(doomed.pid, 'SIGKILL');
    await waitFor(
      'the dead caller to be refused',
      async () => (await resolver!.resolve({ pid: doomed.pid, uid: 0, gid: 0 })).kind !== 'container',
      { timeoutMs: 10_000, intervalMs: 20 },
    );
    t.true(
      resolver!.containers().some((c) => c.containerId === doomed.id),
      'still cached: no event could say otherwise yet',
    );

    await dockerd!.start();
    await waitFor('resolver to reconnect to docker', () => resolver!.status().reachable, {
      timeoutMs: 15_000,
      intervalMs: 20,
    });
    // Reconnecting re-verifies every cached container (events during the outage were lost).
    await waitFor('the dead container to be dropped after reconnecting', () => dropped.includes(doomed.id), {
      timeoutMs: 15_000,
      intervalMs: 20,
    }).catch(async (err: Error) => {
      const state = await dockerd!.docker('inspect', '-f', '{{json .State}}', doomed.id).catch((e: Error) => e.message);
      throw new Error(`${err.message}; docker says ${state}; logs: ${logs.join(' | ')}`);
    });
    t.false(resolver!.containers().some((c) => c.containerId === doomed.id));
  },
);

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
