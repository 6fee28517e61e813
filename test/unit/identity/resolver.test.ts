// The resolver's logic against a fake /proc directory and a fake of our own ContainerRuntime
// interface. The real dockerd and the real /proc are exercised in test/integration/identity*.

import test from 'ava';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createResolver } from '../../../src/identity/resolver.js';
import { pidfdPinGuard, type PinGuard } from '../../../src/identity/pin-guards.js';
import type { PidfdOps } from '../../../src/identity/types.js';
import { waitFor } from '../../helpers/wait.js';
import {
  RuntimeError,
  type ContainerRuntime,
  type RuntimeContainer,
  type RuntimeImage,
  type RuntimeWatchHandlers,
} from '../../../src/identity/runtime.js';

const A = 'a'.repeat(60) + '0001';
const B = 'b'.repeat(60) + '0002';
const C = 'd'.repeat(60) + '0003';
const IMAGE = `sha256:${'c'.repeat(64)}`;

/** pald's own mount namespace in the fake /proc. */
const HOST_MNT = 'mnt:[4026531840]';

class FakeProc {
  readonly root = mkdtempSync(join(tmpdir(), 'pal-fakeproc-'));
  constructor(
    private readonly nsLink = 'pid:[4026531836]',
    mntLink: string | null = HOST_MNT,
  ) {
    mkdirSync(join(this.root, 'self', 'ns'), { recursive: true });
    symlinkSync(nsLink, join(this.root, 'self', 'ns', 'pid'));
    if (mntLink !== null) symlinkSync(mntLink, join(this.root, 'self', 'ns', 'mnt'));
  }
  /** A process; its namespaces are pald's unless `ns` says otherwise (null: unreadable). */
  process(
    pid: number,
    opts: {
      start: string;
      cgroup: string;
      tgid?: number;
      state?: string;
      uid?: number;
      ns?: { pid?: string; mnt?: string } | null;
    },
  ): void {
    const dir = join(this.root, String(pid));
    rmSync(join(dir, 'ns'), { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    if (opts.ns !== null) {
      mkdirSync(join(dir, 'ns'));
      symlinkSync(opts.ns?.pid ?? this.nsLink, join(dir, 'ns', 'pid'));
      symlinkSync(opts.ns?.mnt ?? HOST_MNT, join(dir, 'ns', 'mnt'));
    }
    const fields = [opts.state ?? 'S', ...Array.from({ length: 18 }, () => '0'), opts.start, '0', '0'];
    writeFileSync(join(dir, 'stat'), `${pid} (proc (x)) ${fields.join(' ')}\n`);
    writeFileSync(join(dir, 'cgroup'), opts.cgroup);
    const uid = opts.uid ?? 0;
    writeFileSync(
      join(dir, 'status'),
      `Name:\tx\nTgid:\t${opts.tgid ?? pid}\nPid:\t${pid}\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\nGid:\t${uid}\t${uid}\t${uid}\t${uid}\n`,
    );
  }
  exit(pid: number): void {
    rmSync(join(this.root, String(pid)), { recursive: true, force: true });
  }
  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

class FakeRuntime implements ContainerRuntime {
  readonly endpoint = 'unix:///fake/docker.sock';
  readonly containers = new Map<string, RuntimeContainer>();
  readonly images = new Map<string, RuntimeImage>();
  inspects = 0;
  unreachable = false;
  /** Runs inside inspectContainer, before it answers: lets a test change the world mid-resolution. */
  duringInspect: (() => void) | undefined;
  handlers: RuntimeWatchHandlers | undefined;

  async inspectContainer(idOrName: string): Promise<RuntimeContainer> {
    this.inspects++;
    await Promise.resolve();
    if (this.unreachable)
      throw new RuntimeError('unreachable', `docker unreachable at ${this.endpoint}: connect ENOENT`);
    const hook = this.duringInspect;
    this.duringInspect = undefined;
    hook?.();
    const found = this.containers.get(idOrName) ?? [...this.containers.values()].find((c) => c.name === idOrName);
    if (found === undefined) throw new RuntimeError('not-found', `container ${idOrName} not found`);
    return found;
  }
  async inspectImage(id: string): Promise<RuntimeImage> {
    if (this.unreachable) throw new RuntimeError('unreachable', 'down');
    const image = this.images.get(id);
    if (image === undefined) throw new RuntimeError('not-found', `image ${id} not found`);
    return image;
  }
  watch(handlers: RuntimeWatchHandlers): () => void {
    this.handlers = handlers;
    handlers.onConnected();
    return () => {
      this.handlers = undefined;
    };
  }
}

function world(nsLink?: string, pins?: (procRoot: string) => PinGuard) {
  const proc = new FakeProc(nsLink);
  const runtime = new FakeRuntime();
  runtime.images.set(IMAGE, { id: IMAGE, repoTags: ['app:1'], repoDigests: [], labels: { 'pal.labels': 'x,y' } });
  runtime.containers.set(A, {
    id: A,
    name: 'alpha',
    imageId: IMAGE,
    imageRef: 'app:1',
    running: true,
    pid: 100,
    labels: { 'pal.labels': 'x,y', team: 'red' },
  });
  runtime.containers.set(B, {
    id: B,
    name: 'beta',
    imageId: IMAGE,
    imageRef: 'app:1',
    running: true,
    pid: 300,
    labels: {},
  });
  proc.process(100, { start: '1000', cgroup: `4:memory:/docker/${A}\n0::/docker/${A}\n` });
  proc.process(300, { start: '3000', cgroup: `0::/docker/${B}\n` });
  const logs: string[] = [];
  const pinGuard = pins?.(proc.root);
  const resolver = createResolver({
    runtime,
    procRoot: proc.root,
    log: (m) => logs.push(m),
    ...(pinGuard !== undefined ? { pinGuard } : {}),
  });
  return {
    proc,
    runtime,
    resolver,
    logs,
    cleanup: () => {
      void resolver.close();
      proc.cleanup();
    },
  };
}

const caller = (pid: number) => ({ pid, uid: 1000, gid: 1000 });

test('a process in a container resolves to it, with image labels apart from runtime labels', async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  w.proc.process(201, { start: '2000', cgroup: `4:memory:/docker/${A}\n0::/docker/${A}\n`, tgid: 200 });
  const id = await w.resolver.resolve(caller(201));
  t.like(id, {
    kind: 'container',
    pid: 201,
    tgid: 200,
    uid: 1000,
    gid: 1000,
    startTime: '2000',
    containerId: A,
    name: 'alpha',
    imageId: IMAGE,
    imageRef: 'app:1',
  });
  t.deepEqual(id.imageLabels, { 'pal.labels': 'x,y' });
  t.deepEqual(id.runtimeLabels, { team: 'red' });
  t.deepEqual(id.repoTags, ['app:1']);
  t.deepEqual(w.resolver.containers(), [{ containerId: A, name: 'alpha', imageId: IMAGE, imageRef: 'app:1' }]);
});

test('a host process is host; pid 0 and gone processes are unknown', async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  w.proc.process(500, { start: '5', cgroup: '4:memory:/process_api/21841176b9038cae45e853176fdc4c58\n0::/\n' });
  t.like(await w.resolver.resolve(caller(500)), { kind: 'host', pid: 500 });
  t.like(await w.resolver.resolve(caller(0)), { kind: 'unknown' });
  const gone = await w.resolver.resolve(caller(999));
  t.is(gone.kind, 'unknown');
  t.regex(gone.reason ?? '', /process 999 is gone/);
  w.proc.process(501, { start: '6', cgroup: '0::/\n', state: 'Z' });
  t.regex((await w.resolver.resolve(caller(501))).reason ?? '', /exited/);
});

test('unparsable cgroups are unknown with the parser reason', async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  w.proc.process(600, { start: '6', cgroup: `4:memory:/docker/${A}\n0::/docker/${B}\n` });
  const id = await w.resolver.resolve(caller(600));
  t.is(id.kind, 'unknown');
  t.regex(id.reason ?? '', /different containers/);
});

test('a cached caller costs no inspect; concurrent first sights share one', async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  const results = await Promise.all([
    w.resolver.resolve(caller(100)),
    w.resolver.resolve(caller(100)),
    w.resolver.resolve(caller(100)),
  ]);
  t.true(results.every((r) => r.kind === 'container' && r.containerId === A));
  t.is(w.runtime.inspects, 1);
  await w.resolver.resolve(caller(100));
  t.is(w.runtime.inspects, 1);
});

test('pid reused during resolution: denied, and the new process is judged on its own', async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  w.proc.process(202, { start: '2000', cgroup: `0::/docker/${A}\n` });
  w.runtime.duringInspect = () => {
    // The caller dies and a host process gets its pid before the inspect answers.
    w.proc.process(202, { start: '2999', cgroup: '0::/user.slice\n' });
  };
  const first = await w.resolver.resolve(caller(202));
  t.is(first.kind, 'unknown');
  t.regex(first.reason ?? '', /reused during resolution/);
  t.like(await w.resolver.resolve(caller(202)), { kind: 'host', startTime: '2999' });
});

test('a cached pid that is reused later is not attributed to the old container', async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  w.proc.process(203, { start: '2000', cgroup: `0::/docker/${A}\n` });
  t.like(await w.resolver.resolve(caller(203)), { kind: 'container', containerId: A });
  w.proc.process(203, { start: '2001', cgroup: `0::/docker/${B}\n` });
  t.like(await w.resolver.resolve(caller(203)), { kind: 'container', containerId: B });
  w.proc.process(203, { start: '2002', cgroup: '0::/\n' });
  t.like(await w.resolver.resolve(caller(203)), { kind: 'host' });
});

test("a container's id nested under another container's cgroup is not trusted", async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  // A process in A (with a writable cgroupfs) makes a child cgroup named after B.
  w.proc.process(204, { start: '2000', cgroup: `0::/docker/${A}/${B}\n` });
  const id = await w.resolver.resolve(caller(204));
  t.is(id.kind, 'unknown');
  t.regex(id.reason ?? '', /not container bbbbbbbbbbbb's own cgroup/);
});

test('die event: the cached container is dropped, listeners hear it, the next sight inspects again', async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  const dropped: string[] = [];
  w.resolver.onInvalidate((id) => dropped.push(id));
  await w.resolver.resolve(caller(100));
  t.is(w.resolver.status().cached, 1);
  w.runtime.handlers?.onEvent({ type: 'container', action: 'die', id: A });
  t.deepEqual(dropped, [A]);
  t.deepEqual(w.resolver.containers(), []);
  w.runtime.containers.set(A, { ...w.runtime.containers.get(A)!, running: false, pid: 0 });
  const id = await w.resolver.resolve(caller(100));
  t.is(id.kind, 'unknown');
  t.regex(id.reason ?? '', /not running/);
  t.is(w.runtime.inspects, 2);
});

test('an event that races an inspect keeps the stale answer out of the cache', async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  w.runtime.duringInspect = () => {
    w.runtime.handlers?.onEvent({ type: 'container', action: 'rename', id: A });
    w.runtime.containers.set(A, { ...w.runtime.containers.get(A)!, name: 'renamed' });
  };
  const id = await w.resolver.resolve(caller(100));
  t.like(id, { kind: 'container', name: 'renamed' });
  t.is(w.runtime.inspects, 2);
});

test('image events drop the containers running that image', async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  const dropped: string[] = [];
  w.resolver.onInvalidate((id) => dropped.push(id));
  await w.resolver.resolve(caller(100));
  await w.resolver.resolve(caller(300));
  w.runtime.handlers?.onEvent({ type: 'image', action: 'untag', id: IMAGE });
  t.deepEqual(dropped.sort(), [A, B].sort());
  t.is(w.resolver.status().cached, 0);
});

test('docker unreachable: new containers fail closed with the reason; recovery needs no restart', async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  w.runtime.handlers?.onDisconnected('connect ENOENT /fake/docker.sock');
  w.runtime.unreachable = true;
  const down = await w.resolver.resolve(caller(300));
  t.is(down.kind, 'unknown');
  t.regex(down.reason ?? '', /docker unreachable at unix:\/\/\/fake\/docker.sock: connect ENOENT/);
  t.like(w.resolver.status(), { reachable: false, reason: 'connect ENOENT /fake/docker.sock' });
  w.runtime.unreachable = false;
  w.runtime.handlers?.onConnected();
  t.like(await w.resolver.resolve(caller(300)), { kind: 'container', containerId: B });
  t.like(w.resolver.status(), { reachable: true, cached: 1 });
});

test('while events are down, a cached container whose init died is not served', async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  w.proc.process(205, { start: '2000', cgroup: `0::/docker/${A}\n` });
  t.like(await w.resolver.resolve(caller(205)), { kind: 'container', containerId: A });
  w.runtime.handlers?.onDisconnected('gone');
  w.runtime.unreachable = true;
  t.like(await w.resolver.resolve(caller(205)), { kind: 'container', containerId: A }, 'init alive: still served');
  w.proc.exit(100);
  const id = await w.resolver.resolve(caller(205));
  t.is(id.kind, 'unknown');
  t.regex(id.reason ?? '', /docker unreachable/);
});

test('after reconnecting, containers that changed meanwhile are dropped', async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  const dropped: string[] = [];
  w.resolver.onInvalidate((id) => dropped.push(id));
  await w.resolver.resolve(caller(100));
  await w.resolver.resolve(caller(300));
  w.runtime.containers.set(C, {
    id: C,
    name: 'gamma',
    imageId: IMAGE,
    imageRef: 'app:1',
    running: true,
    pid: 400,
    labels: {},
  });
  w.proc.process(400, { start: '4000', cgroup: `0::/docker/${C}\n` });
  const c = w.runtime.containers.get(C)!;
  await w.resolver.resolve(caller(400));
  w.runtime.handlers?.onDisconnected('gone');
  w.runtime.containers.delete(B);
  // C was restarted meanwhile: same id, new init pid.
  w.runtime.containers.set(C, { ...c, id: C, name: 'gamma', pid: 401 });
  w.runtime.handlers?.onConnected();
  const deadline = Date.now() + 2000;
  while (dropped.length < 2 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  t.deepEqual(dropped.sort(), [B, C].sort());
  t.deepEqual(
    w.resolver.containers().map((c) => c.containerId),
    [A],
  );
});

test('inspectContainer by name explains a container without a caller', async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  t.like(await w.resolver.inspectContainer('alpha'), { kind: 'container', containerId: A, pid: 100, imageId: IMAGE });
  w.runtime.containers.set(B, { ...w.runtime.containers.get(B)!, running: false, pid: 0 });
  t.like(await w.resolver.inspectContainer('beta'), {
    kind: 'container',
    containerId: B,
    pid: 0,
    reason: 'container is not running',
  });
  t.like(await w.resolver.inspectContainer('nope'), { kind: 'unknown', reason: 'container nope not found' });
});

test('outside the host pid namespace: a warning in status and the log', async (t) => {
  const w = world('pid:[4026532100]');
  t.teardown(w.cleanup);
  t.is(w.resolver.pidNamespace.hostPidNamespace, false);
  t.regex(w.resolver.status().warnings?.[0] ?? '', /host pid namespace/);
  t.true(w.logs.some((l) => l.startsWith('WARNING: pald must run in the host pid namespace')));
});

test('the process cache is bounded and holds one fd per cached caller, all released on close', async (t) => {
  const proc = new FakeProc();
  t.teardown(() => proc.cleanup());
  const runtime = new FakeRuntime();
  // Descriptors open on this fake /proc only: other tests in this process don't count.
  const openFds = (): number =>
    readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(proc.root);
      } catch {
        return false;
      }
    }).length;
  const before = openFds();
  const resolver = createResolver({ runtime, procRoot: proc.root, maxCachedProcesses: 8 });
  for (let pid = 1000; pid < 1040; pid++) {
    proc.process(pid, { start: String(pid), cgroup: '0::/\n' });
    t.like(await resolver.resolve(caller(pid)), { kind: 'host' });
  }
  const held = openFds() - before;
  t.true(held > 0 && held <= 8, `holds ${held} fds`);
  t.like(await resolver.resolve(caller(1039)), { kind: 'host' });
  // Unknown verdicts and gone processes hold nothing.
  proc.process(2000, { start: '1', cgroup: 'garbage' });
  await resolver.resolve(caller(2000));
  t.is(openFds() - before, held);
  await resolver.close();
  t.is(openFds(), before);
});

test('no known container in its cgroups but another pid or mount namespace: unknown with the reason, not host', async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  // The shapes measured for ctr, Garden and rootless runtimes: cgroups that name no Docker container.
  const ctrCgroup = '0::/default/redis-server\n';
  w.proc.process(700, { start: '70', cgroup: ctrCgroup, ns: { pid: 'pid:[4026532201]', mnt: 'mnt:[4026532200]' } });
  const otherPid = await w.resolver.resolve(caller(700));
  t.like(otherPid, { kind: 'unknown', pid: 700, startTime: '70' });
  t.regex(otherPid.reason ?? '', /pid namespace pid:\[4026532201\], not pald's pid:\[4026531836\]/);
  w.proc.process(701, {
    start: '71',
    cgroup: '0::/user.slice/user-1000.slice/user@1000.service/app.slice\n',
    ns: { mnt: 'mnt:[4026532300]' },
  });
  const otherMnt = await w.resolver.resolve(caller(701));
  t.like(otherMnt, { kind: 'unknown' });
  t.regex(otherMnt.reason ?? '', /mount namespace mnt:\[4026532300\], not pald's/);
  w.proc.process(702, { start: '72', cgroup: '0::/\n', ns: null });
  const unreadable = await w.resolver.resolve(caller(702));
  t.like(unreadable, { kind: 'unknown' });
  t.regex(unreadable.reason ?? '', /namespaces are not readable/);
  w.proc.process(705, { start: '75', cgroup: '0::/\n', ns: { pid: 'pid:[../../etc]' } });
  t.regex((await w.resolver.resolve(caller(705))).reason ?? '', /not pid:\[inode\]/);
  // Same namespaces: host. A container's process in its own namespaces is still that container.
  w.proc.process(703, { start: '73', cgroup: ctrCgroup });
  t.like(await w.resolver.resolve(caller(703)), { kind: 'host', pid: 703 });
  w.proc.process(704, {
    start: '74',
    cgroup: `0::/docker/${A}\n`,
    ns: { pid: 'pid:[4026532401]', mnt: 'mnt:[4026532400]' },
  });
  t.like(await w.resolver.resolve(caller(704)), { kind: 'container', containerId: A });
});

test('an unknown caller in another namespace is judged again at its next request (not cached as host)', async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  w.proc.process(710, { start: '10', cgroup: '0::/garden/abc\n', ns: { mnt: 'mnt:[4026532500]' } });
  t.like(await w.resolver.resolve(caller(710)), { kind: 'unknown' });
  t.like(await w.resolver.resolve(caller(710)), { kind: 'unknown' });
  // The pid reused by a process in pald's namespaces is host, judged on its own.
  w.proc.process(710, { start: '11', cgroup: '0::/garden/abc\n' });
  t.like(await w.resolver.resolve(caller(710)), { kind: 'host', startTime: '11' });
});

test("pald's own namespaces unreadable: a warning, and no caller is host", async (t) => {
  const proc = new FakeProc('pid:[4026531836]', null);
  t.teardown(() => proc.cleanup());
  const logs: string[] = [];
  const resolver = createResolver({ runtime: new FakeRuntime(), procRoot: proc.root, log: (m) => logs.push(m) });
  t.teardown(() => resolver.close());
  proc.process(720, { start: '1', cgroup: '0::/\n' });
  const id = await resolver.resolve(caller(720));
  t.like(id, { kind: 'unknown' });
  t.regex(id.reason ?? '', /cannot read its own namespaces/);
  t.true(resolver.status().warnings?.some((w) => /own namespaces/.test(w)));
  t.true(logs.some((l) => l.startsWith('WARNING: pald cannot read its own namespaces')));
});

test('pinnedStartTime(pid): the pinned process only, never read by number; a reused pid has none', async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  w.proc.process(204, { start: '2000', cgroup: `0::/docker/${A}\n` });
  t.is(w.resolver.pinnedStartTime(204), undefined, 'not pinned yet: not read by number');
  await w.resolver.resolve(caller(204));
  t.is(w.resolver.pinnedStartTime(204), '2000', 'pinned: through the pinned fd');
  w.proc.process(204, { start: '2001', cgroup: `0::/docker/${A}\n` });
  t.is(w.resolver.pinnedStartTime(204), undefined, 'a new process with the same pid: the pin stops holding');
  t.like(await w.resolver.resolve(caller(204)), { kind: 'container', startTime: '2001' });
  t.is(w.resolver.pinnedStartTime(204), '2001', 'pinned afresh by its own resolution');
  t.is(w.resolver.pinnedStartTime(999), undefined);
  t.is(w.resolver.pinnedStartTime(0), undefined);
});

test('start event: the container is attributed before its first open, which then costs no inspect', async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  w.runtime.handlers?.onEvent({ type: 'container', action: 'start', id: A });
  await waitFor('record', () => w.resolver.status().cached === 1, { timeoutMs: 5_000, intervalMs: 1 });
  t.is(w.runtime.inspects, 1);
  w.proc.process(205, { start: '2000', cgroup: `0::/docker/${A}\n` });
  t.like(await w.resolver.resolve(caller(205)), { kind: 'container', containerId: A, name: 'alpha', pid: 205 });
  t.is(w.runtime.inspects, 1, 'the first open used the pre-attributed record');
  // The hint decides nothing: a caller is still attributed by its own cgroup.
  w.proc.process(305, { start: '3001', cgroup: `0::/docker/${B}\n` });
  t.like(await w.resolver.resolve(caller(305)), { kind: 'container', containerId: B });
  // A second start hint for a container whose record is current costs nothing.
  w.runtime.handlers?.onEvent({ type: 'container', action: 'start', id: A });
  t.is(w.runtime.inspects, 2);
});

test('an open racing the start event shares its inspect', async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  w.runtime.handlers?.onEvent({ type: 'container', action: 'start', id: A });
  t.like(await w.resolver.resolve(caller(100)), { kind: 'container', containerId: A });
  t.is(w.runtime.inspects, 1);
});

test('a die event racing a pre-attribution keeps its stale answer out of the cache', async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  const dropped: string[] = [];
  w.resolver.onInvalidate((id) => dropped.push(id));
  const inspect = w.runtime.inspectContainer.bind(w.runtime);
  let raced = false;
  w.runtime.inspectContainer = async (id: string) => {
    const answer = await inspect(id);
    if (!raced) {
      // The runtime answered "running"; the container dies before the answer is cached.
      raced = true;
      // (Its init's /proc is still readable: only the generation guard can tell the answer is stale.)
      w.runtime.containers.set(A, { ...answer, running: false, pid: 0 });
      w.runtime.handlers?.onEvent({ type: 'container', action: 'die', id: A });
    }
    return answer;
  };
  // A process still naming A's cgroup (a leftover) opens while the pre-attribution is in flight: it shares it.
  w.proc.process(206, { start: '2000', cgroup: `0::/docker/${A}\n` });
  w.runtime.handlers?.onEvent({ type: 'container', action: 'start', id: A });
  const id = await w.resolver.resolve(caller(206));
  t.is(id.kind, 'unknown');
  t.regex(id.reason ?? '', /not running/);
  t.is(w.runtime.inspects, 2, 'the stale answer was inspected again');
  t.is(w.resolver.status().cached, 0, 'the stale pre-attribution was not cached');
  t.deepEqual(w.resolver.containers(), []);
});

test('a start hint for a container whose recorded init is gone drops that record first', async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  const dropped: string[] = [];
  w.resolver.onInvalidate((id) => dropped.push(id));
  t.like(await w.resolver.resolve(caller(100)), { kind: 'container', containerId: A });
  // Restarted while its die event was missed: a new init.
  w.proc.exit(100);
  w.runtime.containers.set(A, { ...w.runtime.containers.get(A)!, pid: 101 });
  w.proc.process(101, { start: '1001', cgroup: `0::/docker/${A}\n` });
  w.runtime.handlers?.onEvent({ type: 'container', action: 'start', id: A });
  t.deepEqual(dropped, [A]);
  await waitFor('reloaded', () => w.resolver.status().cached === 1, { timeoutMs: 5_000, intervalMs: 1 });
  t.is(w.runtime.inspects, 2);
  t.like(await w.resolver.resolve(caller(101)), { kind: 'container', containerId: A });
  t.is(w.runtime.inspects, 2);
});

test('a start hint whose inspect answers for another container caches nothing', async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  // A runtime that answers for A when asked about C: nothing may be cached under C.
  w.runtime.containers.set(C, w.runtime.containers.get(A)!);
  w.proc.process(207, { start: '2000', cgroup: `0::/docker/${C}\n` });
  w.runtime.handlers?.onEvent({ type: 'container', action: 'start', id: C });
  const id = await w.resolver.resolve(caller(207));
  t.is(id.kind, 'unknown');
  t.regex(id.reason ?? '', /runtime answered for aaaaaaaaaaaa, not dddddddddddd/);
  t.is(w.runtime.inspects, 1, 'the open shared the pre-attribution');
  t.is(w.resolver.status().cached, 0);
});

test("a cached caller's answer follows the kernel's uid/gid of each request and its container's record", async (t) => {
  const w = world();
  t.teardown(w.cleanup);
  await w.resolver.resolve(caller(100));
  const cached = await w.resolver.resolve(caller(100));
  t.is(await w.resolver.resolve(caller(100)), cached, 'the same answer for the same request');
  t.true(Object.isFrozen(cached));
  t.like(await w.resolver.resolve({ pid: 100, uid: 0, gid: 5 }), { kind: 'container', uid: 0, gid: 5 });
  t.like(await w.resolver.resolve(caller(100)), { uid: 1000, gid: 1000 });
  // A rename drops the record; the next answer is built from the new one.
  w.runtime.containers.set(A, { ...w.runtime.containers.get(A)!, name: 'renamed' });
  w.runtime.handlers?.onEvent({ type: 'container', action: 'rename', id: A });
  t.like(await w.resolver.resolve(caller(100)), { name: 'renamed' });
});

/** Fake pidfds for the resolver's pidfd guard: each pins a pid until `reap`; tgid() answers `tgids`. */
function fakePidfds(tgids: Map<number, number>) {
  const open = new Map<number, number>();
  const reaped = new Set<number>();
  let next = 500;
  const ops: PidfdOps = {
    open: (tid) => (open.set(next, tid), next++),
    alive: (fd) => open.has(fd) && !reaped.has(fd),
    tgid: (fd) => tgids.get(open.get(fd) ?? 0) ?? 0,
    close: (fd) => void open.delete(fd),
  };
  const reap = (pid: number): void => {
    for (const [fd, p] of open) if (p === pid) reaped.add(fd);
  };
  return { ops, open, reap };
}

test('pidfd pins: the thread group from the pidfd, a pid reused during resolution denied, a cached one dropped', async (t) => {
  const tgids = new Map([[210, 77]]);
  const pidfds = fakePidfds(tgids);
  const w = world(undefined, (root) => pidfdPinGuard(root, pidfds.ops));
  t.teardown(w.cleanup);
  // /proc says its own thread group; the pidfd's answer (the pinned thread's) is the one used.
  w.proc.process(210, { start: '2100', cgroup: `0::/docker/${A}\n`, tgid: 210 });
  t.like(await w.resolver.resolve(caller(210)), { kind: 'container', containerId: A, tgid: 77 });
  t.is(pidfds.open.size, 1, 'kept: one pidfd');

  w.proc.process(211, { start: '2110', cgroup: `0::/docker/${B}\n` });
  w.runtime.duringInspect = () => {
    pidfds.reap(211); // the caller is reaped and a host process gets its pid before the inspect answers
    w.proc.process(211, { start: '2999', cgroup: '0::/user.slice\n' });
  };
  const raced = await w.resolver.resolve(caller(211));
  t.is(raced.kind, 'unknown');
  t.regex(raced.reason ?? '', /reused during resolution/);
  t.is(pidfds.open.size, 1, 'its pidfd was closed');
  t.like(await w.resolver.resolve(caller(211)), { kind: 'host', startTime: '2999' });

  pidfds.reap(210);
  tgids.delete(210); // a kernel that cannot tell: /proc/<pid>/status is read
  w.proc.process(210, { start: '2101', cgroup: `0::/docker/${B}\n` });
  t.like(await w.resolver.resolve(caller(210)), { kind: 'container', containerId: B, startTime: '2101', tgid: 210 });
});

/** fakePidfds with the one-call pin (pidfdPinRead): stat and cgroup as the fake /proc holds them when pinned. */
function fakeOneCallPidfds(root: string, tgids: Map<number, number>) {
  const base = fakePidfds(tgids);
  const state = { pinReads: 0, opens: 0, afterRead: undefined as (() => void) | undefined };
  const ops: PidfdOps = {
    ...base.ops,
    open: (tid) => (state.opens++, base.ops.open(tid)),
    pinRead(tid) {
      state.pinReads++;
      const fd = base.ops.open(tid);
      try {
        const stat = readFileSync(join(root, String(tid), 'stat'), 'latin1');
        const cgroup = readFileSync(join(root, String(tid), 'cgroup'), 'latin1');
        if (!base.ops.alive(fd)) throw Object.assign(new Error('gone'), { errno: 3, step: 'alive' });
        return { fd, stat, cgroup, tgid: base.ops.tgid!(fd) };
      } catch (err) {
        base.ops.close(fd);
        if ((err as NodeJS.ErrnoException).code === 'ENOENT')
          throw Object.assign(new Error('no stat'), { errno: 2, step: 'stat' });
        throw err;
      } finally {
        state.afterRead?.();
      }
    },
  };
  return { ...base, ops, state };
}

test('one-call pidfd pins: stat, cgroups and thread group come from the one call; reuse and exit still caught', async (t) => {
  const tgids = new Map([[220, 88]]);
  let fds: ReturnType<typeof fakeOneCallPidfds> | undefined;
  const w = world(undefined, (root) => pidfdPinGuard(root, (fds = fakeOneCallPidfds(root, tgids)).ops));
  t.teardown(w.cleanup);
  const pidfds = fds!;
  w.proc.process(220, { start: '2200', cgroup: `0::/docker/${A}\n`, tgid: 220 });
  // What the call read is used: /proc/220/cgroup read by number afterwards names another container.
  pidfds.state.afterRead = () => w.proc.process(220, { start: '2200', cgroup: `0::/docker/${B}\n`, tgid: 220 });
  t.like(await w.resolver.resolve(caller(220)), { kind: 'container', containerId: A, startTime: '2200', tgid: 88 });
  pidfds.state.afterRead = undefined;
  t.is(pidfds.state.pinReads, 1);
  t.is(pidfds.state.opens, 0, 'no step-by-step pidfd_open');
  t.is(pidfds.open.size, 1, 'kept: one pidfd');

  // Reaped and its pid reused during the inspect: denied, its pidfd closed.
  w.proc.process(221, { start: '2210', cgroup: `0::/docker/${B}\n` });
  w.runtime.duringInspect = () => {
    pidfds.reap(221);
    w.proc.process(221, { start: '2999', cgroup: '0::/user.slice\n' });
  };
  t.regex((await w.resolver.resolve(caller(221))).reason ?? '', /reused during resolution/);
  t.is(pidfds.open.size, 1);
  // Gone before the call: unknown, nothing held.
  t.regex((await w.resolver.resolve(caller(222))).reason ?? '', /^process 222 is gone: /);
  t.is(pidfds.open.size, 1);
});
