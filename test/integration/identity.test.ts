// Caller identity against a real private dockerd and the real /proc: containers' init and
// exec'd processes, Kubernetes-like cgroup parents, host processes and threads, event-driven
// invalidation, and pids reused by the kernel (forced with /proc/sys/kernel/ns_last_pid).

import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { createIdentityResolver, type Identity, type ResolverWithDiagnostics } from '../../src/identity/index.js';
import { startDockerd, type TestDockerd } from '../../scripts/components/dockerd.js';
import { waitFor } from '../helpers/wait.js';
import { withPid } from '../helpers/pid-reuse.js';

let dockerd: TestDockerd | undefined;
let resolver: ResolverWithDiagnostics | undefined;
let imageA = '';
let imageB = '';
const spawned: ChildProcess[] = [];

test.before(async () => {
  dockerd = await startDockerd();
  imageA = await dockerd.importBusyboxImage('pal-identity/a:1', {
    'pal.labels': 'alpha,shared',
    'org.example.team': 'red',
  });
  imageB = await dockerd.importBusyboxImage('pal-identity/b:1', { 'pal.labels': 'beta' });
  resolver = createIdentityResolver({ dockerHost: dockerd.host });
  await waitFor('resolver connected to docker events', () => resolver!.status().reachable, {
    timeoutMs: 10_000,
    intervalMs: 20,
  });
});

test.after.always(async () => {
  for (const child of spawned) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await resolver?.close();
  await dockerd?.cleanup();
});

async function run(name: string, image: string, ...extra: string[]): Promise<{ id: string; pid: number }> {
  const id = await dockerd!.docker('run', '-d', '--network', 'none', '--name', name, ...extra, image, 'sleep', '3600');
  const pid = Number(await dockerd!.docker('inspect', '-f', '{{.State.Pid}}', id));
  return { id, pid };
}

/** Host pid of a process in a container, found by its unique command line through `docker top`. */
async function hostPidOf(container: string, marker: string): Promise<number> {
  let found = 0;
  await waitFor(
    `process "${marker}" in ${container}`,
    async () => {
      const top = await dockerd!.docker('top', container, '-eo', 'pid,args');
      const line = top.split('\n').find((l) => l.includes(marker));
      found = line === undefined ? 0 : Number(line.trim().split(/\s+/)[0]);
      return found > 0;
    },
    { timeoutMs: 10_000, intervalMs: 20 },
  );
  return found;
}

/** A new host process holding pid `target` (forced through the kernel's last allocated pid). */
function spawnHostProcessWithPid(target: number): Promise<ChildProcess> {
  return withPid(
    target,
    () => {
      const child = spawn('sleep', ['300'], { stdio: 'ignore' });
      spawned.push(child);
      return child;
    },
    async (other) => {
      other.kill('SIGKILL');
      if (other.exitCode === null && other.signalCode === null) await once(other, 'exit');
    },
  );
}

function caller(pid: number): { pid: number; uid: number; gid: number } {
  return { pid, uid: 0, gid: 0 };
}

test.serial("init and exec'd processes resolve to their container, with image id, labels and tgid", async (t) => {
  const a = await run('ident-a', 'pal-identity/a:1', '--label', 'runtime.only=1', '--label', 'pal.labels=forged');
  const b = await run('ident-b', 'pal-identity/b:1');

  const initA = await resolver!.resolve(caller(a.pid));
  t.like(initA, {
    kind: 'container',
    pid: a.pid,
    tgid: a.pid,
    containerId: a.id,
    name: 'ident-a',
    imageId: imageA,
    imageRef: 'pal-identity/a:1',
  });
  t.deepEqual(initA.imageLabels, { 'pal.labels': 'alpha,shared', 'org.example.team': 'red' });
  // Runtime labels are kept apart (never a source of trust), including an overridden image label.
  t.deepEqual(initA.runtimeLabels, { 'runtime.only': '1', 'pal.labels': 'forged' });
  t.deepEqual(initA.repoTags, ['pal-identity/a:1']);
  t.regex(initA.startTime ?? '', /^\d+$/);

  await dockerd!.docker('exec', '-d', 'ident-a', 'sleep', '3601');
  const execPid = await hostPidOf('ident-a', 'sleep 3601');
  t.not(execPid, a.pid);
  t.like(await resolver!.resolve({ pid: execPid, uid: 1234, gid: 4321 }), {
    kind: 'container',
    pid: execPid,
    tgid: execPid,
    uid: 1234,
    gid: 4321,
    containerId: a.id,
    imageId: imageA,
  });

  t.like(await resolver!.resolve(caller(b.pid)), {
    kind: 'container',
    containerId: b.id,
    name: 'ident-b',
    imageId: imageB,
  });
  t.deepEqual((await resolver!.resolve(caller(b.pid))).imageLabels, { 'pal.labels': 'beta' });

  const names = resolver!
    .containers()
    .map((c) => c.name)
    .sort();
  t.true(names.includes('ident-a') && names.includes('ident-b'));
  t.like(await resolver!.inspectContainer('ident-b'), {
    kind: 'container',
    containerId: b.id,
    pid: b.pid,
    imageId: imageB,
  });
});

test.serial('host processes and their threads are host callers; thread ids record their tgid', async (t) => {
  t.like(await resolver!.resolve(caller(process.pid)), { kind: 'host', pid: process.pid, tgid: process.pid });
  const thread = readdirSync(`/proc/${process.pid}/task`)
    .map(Number)
    .find((tid) => tid !== process.pid);
  t.truthy(thread, 'node runs helper threads');
  t.like(await resolver!.resolve(caller(thread!)), { kind: 'host', pid: thread, tgid: process.pid });
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  spawned.push(child);
  t.like(await resolver!.resolve(caller(child.pid!)), { kind: 'host', tgid: child.pid });
  child.kill('SIGKILL');
});

test.serial('a container under a Kubernetes-like cgroup parent resolves', async (t) => {
  const parent = `/kubepods/burstable/pod${randomUUID()}`;
  const k = await run('ident-kube', 'pal-identity/b:1', `--cgroup-parent=${parent}`);
  t.true(readFileSync(`/proc/${k.pid}/cgroup`, 'utf8').includes(`${parent}/${k.id}`));
  t.like(await resolver!.resolve(caller(k.pid)), {
    kind: 'container',
    containerId: k.id,
    name: 'ident-kube',
    imageId: imageB,
  });
});

test.serial(
  "a container nested under another container's cgroup (Docker-in-Docker shape) resolves to the inner one",
  async (t) => {
    const outer = await run('ident-outer', 'pal-identity/a:1');
    const inner = await run('ident-inner', 'pal-identity/b:1', `--cgroup-parent=/docker/${outer.id}`);
    t.true(readFileSync(`/proc/${inner.pid}/cgroup`, 'utf8').includes(`/docker/${outer.id}/${inner.id}`));
    t.like(await resolver!.resolve(caller(inner.pid)), {
      kind: 'container',
      containerId: inner.id,
      name: 'ident-inner',
      imageId: imageB,
    });
    t.like(await resolver!.resolve(caller(outer.pid)), { kind: 'container', containerId: outer.id, imageId: imageA });
  },
);

test.serial('a process put in a child cgroup of A named after B is not taken for B', async (t) => {
  const a = await dockerd!.docker('inspect', '-f', '{{.Id}}', 'ident-a');
  const b = await dockerd!.docker('inspect', '-f', '{{.Id}}', 'ident-b');
  // The cgroup v1 memory hierarchy here; the unified hierarchy on cgroup v2 hosts.
  const base = ['/sys/fs/cgroup/memory', '/sys/fs/cgroup'].find((root) => existsSync(`${root}/docker/${a}`));
  if (base === undefined) {
    t.log('no writable cgroupfs path for the container found; nothing to test on this host');
    t.pass();
    return;
  }
  const forged = `${base}/docker/${a}/${b}`;
  mkdirSync(forged);
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  spawned.push(child);
  t.teardown(async () => {
    child.kill('SIGKILL');
    await waitFor(
      'forged child to exit',
      () => !existsSync(`/proc/${child.pid}`) || readFileSync(`/proc/${child.pid}/stat`, 'utf8').includes(') Z '),
      { timeoutMs: 5_000, intervalMs: 20 },
    ).catch(() => undefined);
    await waitFor(
      'forged cgroup removal',
      () => {
        try {
          rmdirSync(forged);
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: 5_000, intervalMs: 20 },
    ).catch(() => undefined);
  });
  writeFileSync(`${forged}/cgroup.procs`, String(child.pid));
  t.true(readFileSync(`/proc/${child.pid}/cgroup`, 'utf8').includes(`/docker/${a}/${b}`));
  const id = await resolver!.resolve(caller(child.pid!));
  t.is(id.kind, 'unknown');
  t.regex(id.reason ?? '', new RegExp(`is not container ${b.slice(0, 12)}'s own cgroup`));
});

test.serial("a reused pid of a dead exec'd process is not attributed to the container", async (t) => {
  await dockerd!.docker('exec', '-d', 'ident-a', 'sleep', '3602');
  const execPid = await hostPidOf('ident-a', 'sleep 3602');
  t.like(await resolver!.resolve(caller(execPid)), { kind: 'container', name: 'ident-a' });
  process.kill(execPid, 'SIGKILL');
  const impostor = await spawnHostProcessWithPid(execPid);
  const id: Identity = await resolver!.resolve(caller(execPid));
  t.is(impostor.pid, execPid);
  t.like(id, { kind: 'host', pid: execPid, tgid: execPid });
  impostor.kill('SIGKILL');
});

test.serial(
  'removing a container drops its cached identity by event, and its pid reused on the host is host',
  async (t) => {
    const gone = await run('ident-gone', 'pal-identity/a:1');
    t.like(await resolver!.resolve(caller(gone.pid)), { kind: 'container', containerId: gone.id });
    t.true(resolver!.containers().some((c) => c.containerId === gone.id));
    const dropped: string[] = [];
    resolver!.onInvalidate((id) => dropped.push(id));

    await dockerd!.docker('rm', '-f', 'ident-gone');
    await waitFor('invalidation event for the removed container', () => dropped.includes(gone.id), {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    t.false(resolver!.containers().some((c) => c.containerId === gone.id));

    const impostor = await spawnHostProcessWithPid(gone.pid);
    const id = await resolver!.resolve(caller(gone.pid));
    t.like(id, { kind: 'host', pid: gone.pid });
    t.is(id.containerId, undefined);
    impostor.kill('SIGKILL');
  },
);

test.serial('a container renamed while cached is re-inspected with its new name', async (t) => {
  const r = await run('ident-old-name', 'pal-identity/b:1');
  t.like(await resolver!.resolve(caller(r.pid)), { name: 'ident-old-name' });
  await dockerd!.docker('rename', 'ident-old-name', 'ident-new-name');
  await waitFor('rename event', () => !resolver!.containers().some((c) => c.name === 'ident-old-name'), {
    timeoutMs: 10_000,
    intervalMs: 20,
  });
  t.like(await resolver!.resolve(caller(r.pid)), { kind: 'container', containerId: r.id, name: 'ident-new-name' });
});

test.serial("untagging a running container's image drops its identity; the next sight has the new tags", async (t) => {
  const imageC = await dockerd!.importBusyboxImage('pal-identity/c:1', { 'pal.labels': 'gamma' });
  const c = await run('ident-c', 'pal-identity/c:1');
  t.like(await resolver!.resolve(caller(c.pid)), { kind: 'container', imageId: imageC });
  t.deepEqual((await resolver!.resolve(caller(c.pid))).repoTags, ['pal-identity/c:1']);
  const dropped: string[] = [];
  resolver!.onInvalidate((id) => dropped.push(id));
  await dockerd!.docker('rmi', '-f', 'pal-identity/c:1');
  await waitFor('invalidation by the image event', () => dropped.includes(c.id), { timeoutMs: 10_000, intervalMs: 20 });
  const after = await resolver!.resolve(caller(c.pid));
  t.like(after, { kind: 'container', containerId: c.id, imageId: imageC });
  t.deepEqual(after.repoTags, []);
  t.deepEqual(after.imageLabels, { 'pal.labels': 'gamma' });
});

test.serial('a process id nobody has is unknown, with a reason', async (t) => {
  const id = await resolver!.resolve(caller(4_000_000));
  t.is(id.kind, 'unknown');
  t.regex(id.reason ?? '', /gone/);
  t.is((await resolver!.inspectContainer('no-such-container')).kind, 'unknown');
});
