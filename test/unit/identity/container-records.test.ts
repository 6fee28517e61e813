// Container records' own contract, against a fake of our ContainerRuntime interface and a fake
// /proc: one inspect for concurrent loads, a drop racing an inspect keeps its answer out, records
// loaded while events are down are doubtful until re-checked, image events name their records.

import test from 'ava';
import { ContainerRecords } from '../../../src/identity/container-records.js';
import {
  RuntimeError,
  type ContainerRuntime,
  type RuntimeContainer,
  type RuntimeImage,
} from '../../../src/identity/runtime.js';
import { fakeStatProc, type FakeStatProc } from '../../helpers/fake-proc.js';

const A = 'a'.repeat(60) + '0001';
const B = 'b'.repeat(60) + '0002';
const IMAGE = `sha256:${'c'.repeat(64)}`;
const OTHER_IMAGE = `sha256:${'e'.repeat(64)}`;

class Runtime implements ContainerRuntime {
  readonly endpoint = 'unix:///fake/docker.sock';
  readonly containers = new Map<string, RuntimeContainer>();
  readonly images = new Map<string, RuntimeImage>([
    [IMAGE, { id: IMAGE, repoTags: ['app:1'], repoDigests: [], labels: { 'pal.labels': 'x' } }],
    [OTHER_IMAGE, { id: OTHER_IMAGE, repoTags: ['other:1'], repoDigests: [], labels: {} }],
  ]);
  readonly inspected: string[] = [];
  readonly imagesInspected: string[] = [];
  /** Runs inside inspectContainer before it answers. */
  duringInspect: (() => void) | undefined;

  async inspectContainer(id: string): Promise<RuntimeContainer> {
    this.inspected.push(id);
    await Promise.resolve();
    this.duringInspect?.();
    const found = this.containers.get(id);
    if (found === undefined) throw new RuntimeError('not-found', `container ${id} not found`);
    return found;
  }
  async inspectImage(id: string): Promise<RuntimeImage> {
    this.imagesInspected.push(id);
    const image = this.images.get(id);
    if (image === undefined) throw new RuntimeError('not-found', `image ${id} not found`);
    return image;
  }
  watch(): () => void {
    return () => {};
  }
}

/** A running container `id` with its init `pid` in its own cgroup. */
function run(proc: FakeStatProc, runtime: Runtime, id: string, pid: number, imageId = IMAGE): void {
  runtime.containers.set(id, {
    id,
    name: `c${pid}`,
    imageId,
    imageRef: 'app:1',
    running: true,
    pid,
    labels: { 'pal.labels': 'x', team: 'red' },
  });
  proc.process(pid, String(pid * 10), { cgroup: `0::/docker/${id}\n` });
}

function setup(t: { teardown(fn: () => void): void }, opts: { maxImages?: number } = {}) {
  const proc = fakeStatProc();
  const runtime = new Runtime();
  const stale: Array<[string, string]> = [];
  let staleHeard: (() => void) | undefined;
  const records: ContainerRecords = new ContainerRecords({
    runtime,
    procRoot: proc.root,
    log: () => {},
    maxImages: opts.maxImages ?? 8,
    onStale: (id, why) => {
      records.drop(id);
      stale.push([id, why]);
      staleHeard?.();
    },
  });
  t.teardown(() => {
    void records.close();
    proc.cleanup();
  });
  /** Resolves at the next onStale. */
  const nextStale = () => new Promise<void>((resolve) => (staleHeard = resolve));
  return { proc, runtime, records, stale, nextStale };
}

test('concurrent loads share one inspect; the record separates runtime labels from image labels', async (t) => {
  const { proc, runtime, records } = setup(t);
  run(proc, runtime, A, 100);
  records.eventsResumed();
  const [one, two] = await Promise.all([records.load(A), records.load(A)]);
  t.is(one, two);
  t.deepEqual(runtime.inspected, [A]);
  if (!('record' in one)) return t.fail(one.reason);
  t.is(records.get(A), one.record);
  t.like(one.record, { id: A, initPid: 100, initStartTime: '1000', imageId: IMAGE });
  t.deepEqual({ ...one.record.base.runtimeLabels }, { team: 'red' });
  t.deepEqual(records.summaries(), [one.record.summary]);
});

test('a container not running, or whose init is not in its cgroup, has no record and a reason', async (t) => {
  const { proc, runtime, records } = setup(t);
  runtime.containers.set(A, {
    id: A,
    name: 'a',
    imageId: IMAGE,
    imageRef: 'app:1',
    running: false,
    pid: 0,
    labels: {},
  });
  t.like(await records.load(A), { reason: `container ${A.slice(0, 12)} is not running` });
  run(proc, runtime, B, 200);
  proc.process(200, '2000', { cgroup: `0::/docker/${A}\n` });
  t.regex(((await records.load(B)) as { reason: string }).reason, /init process 200 is not in the container's cgroup/);
  t.is(records.size, 0);
});

test('a drop racing every inspect keeps the stale answer out of the cache', async (t) => {
  const { proc, runtime, records } = setup(t);
  run(proc, runtime, A, 100);
  runtime.duringInspect = () => records.drop(A);
  t.like(await records.load(A), { reason: `container ${A.slice(0, 12)} changed while it was being inspected` });
  t.is(records.get(A), undefined);
  t.is(runtime.inspected.length, 2, 'one retry');
  runtime.duringInspect = undefined;
  t.true('record' in (await records.load(A)));
});

test('loaded while events are down: served only while its init is the one recorded', async (t) => {
  const { proc, runtime, records } = setup(t);
  run(proc, runtime, A, 100);
  records.eventsLost();
  const loaded = await records.load(A);
  if (!('record' in loaded)) return t.fail(loaded.reason);
  t.true(records.usable(loaded.record));
  proc.process(100, '9999', { cgroup: `0::/docker/${A}\n` }); // init pid reused
  t.false(records.usable(loaded.record));
});

test('after reconnecting: changed or gone records are reported stale, unchanged ones trusted again', async (t) => {
  const { proc, runtime, records, stale, nextStale } = setup(t);
  run(proc, runtime, A, 100);
  run(proc, runtime, B, 200);
  records.eventsLost();
  const a = await records.load(A);
  const b = await records.load(B);
  if (!('record' in a) || !('record' in b)) return t.fail('not loaded');
  runtime.containers.set(B, { ...runtime.containers.get(B)!, pid: 201 }); // restarted meanwhile
  let heard = nextStale();
  records.eventsResumed();
  await heard; // A is checked before B (load order)
  t.deepEqual(stale, [[B, 'changed while docker events were disconnected']]);
  t.is(records.get(B), undefined);
  proc.process(100, '9999'); // no longer checked against its init: no longer doubtful
  t.true(records.usable(a.record));

  records.eventsLost();
  runtime.containers.delete(A);
  heard = nextStale();
  records.eventsResumed();
  await heard;
  t.deepEqual(stale[1], [A, 'gone after reconnect']);
  t.is(records.size, 0);
});

test('an image event forgets the image and names the records running it', async (t) => {
  const { proc, runtime, records } = setup(t);
  run(proc, runtime, A, 100);
  run(proc, runtime, B, 200, OTHER_IMAGE);
  records.eventsResumed();
  await records.load(A);
  await records.load(B);
  t.deepEqual(records.imageChanged(IMAGE), [A]);
  records.drop(A);
  await records.load(A);
  t.deepEqual(runtime.imagesInspected, [IMAGE, OTHER_IMAGE, IMAGE]);
});

test('images are cached up to maxImages', async (t) => {
  const { proc, runtime, records } = setup(t, { maxImages: 1 });
  run(proc, runtime, A, 100);
  run(proc, runtime, B, 200, OTHER_IMAGE);
  records.eventsResumed();
  await records.load(A);
  await records.load(B); // evicts IMAGE
  records.drop(A);
  await records.load(A);
  t.deepEqual(runtime.imagesInspected, [IMAGE, OTHER_IMAGE, IMAGE]);
  t.like(await records.image(IMAGE), { id: IMAGE });
  t.is(runtime.imagesInspected.length, 3, 'the most recent is kept');
});
