import test from 'ava';
import { createRuntimeSet } from '../../../src/identity/runtime-set.js';
import {
  RuntimeError,
  type ContainerRuntime,
  type RuntimeContainer,
  type RuntimeWatchHandlers,
} from '../../../src/identity/runtime.js';

function fake(
  endpoint: string,
  known: Record<string, RuntimeContainer>,
  down = false,
): ContainerRuntime & { handlers?: RuntimeWatchHandlers } {
  const r: ContainerRuntime & { handlers?: RuntimeWatchHandlers } = {
    endpoint,
    async inspectContainer(id) {
      if (down) throw new RuntimeError('unreachable', `${endpoint} down`);
      const c = known[id];
      if (c === undefined) throw new RuntimeError('not-found', `${id} not in ${endpoint}`);
      return c;
    },
    async inspectImage(id) {
      return { id, repoTags: [endpoint], repoDigests: [], labels: {} };
    },
    watch(handlers) {
      r.handlers = handlers;
      return () => {};
    },
  };
  return r;
}

const container = (id: string, imageId: string): RuntimeContainer => ({
  id,
  name: id,
  imageId,
  imageRef: 'x',
  running: true,
  pid: 1,
  labels: {},
});

test('the runtime that knows an id answers; its names for the image count; none knows → not found', async (t) => {
  const docker = fake('docker', { a: container('a', 'sha256:1') });
  const cri = fake('cri', { b: container('b', 'sha256:2') });
  const set = createRuntimeSet([docker, cri]);
  t.is((await set.inspectContainer('b')).id, 'b');
  t.deepEqual((await set.inspectImage('sha256:2')).repoTags, ['cri']);
  t.is((await set.inspectContainer('a')).id, 'a');
  await t.throwsAsync(set.inspectContainer('c'), {
    instanceOf: RuntimeError,
    message: /not found in any configured runtime/,
  });
});

test('one runtime down: an id the other does not know fails closed with the outage as reason', async (t) => {
  const set = createRuntimeSet([fake('docker', {}), fake('cri', {}, true)]);
  const err = await t.throwsAsync(set.inspectContainer('x'), { instanceOf: RuntimeError });
  t.is(err.kind, 'unreachable');
  t.regex(err.message, /cri down/);
});

test('connected only while every runtime is', (t) => {
  const docker = fake('docker', {});
  const cri = fake('cri', {});
  const seen: string[] = [];
  createRuntimeSet([docker, cri]).watch({
    onConnected: () => seen.push('up'),
    onDisconnected: (r) => seen.push(`down ${r}`),
    onEvent: () => {},
  });
  docker.handlers!.onConnected();
  t.deepEqual(seen, []);
  cri.handlers!.onConnected();
  t.deepEqual(seen, ['up']);
  cri.handlers!.onDisconnected('gone');
  t.deepEqual(seen, ['up', 'down cri: gone']);
});

test('the cgroup shape decides which runtime is asked first', async (t) => {
  const asked: string[] = [];
  const member = (endpoint: string, serves: readonly ('docker' | 'containerd')[]): ContainerRuntime => ({
    ...fake(endpoint, {}),
    serves,
    async inspectContainer(id) {
      asked.push(endpoint);
      if (endpoint === 'cri') return container(id, 'sha256:3');
      throw new RuntimeError('not-found', 'no');
    },
  });
  const set = createRuntimeSet([member('docker', ['docker']), member('cri', ['containerd'])]);
  await set.inspectContainer('x', 'containerd');
  t.deepEqual(asked, ['cri']);
  asked.length = 0;
  await set.inspectContainer('x', 'docker');
  t.deepEqual(asked, ['docker', 'cri'], 'a shape orders, it does not exclude');
});
