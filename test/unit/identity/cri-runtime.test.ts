// The CRI runtime against a fake of pal's own CriCall interface: what it makes of well-formed and
// hostile answers, and how its poll reports containers going away and the runtime going down.

import test from 'ava';
import { createCriRuntime } from '../../../src/identity/cri/cri-runtime.js';
import type { CriCall, CriMethod } from '../../../src/identity/cri/cri-client.js';
import { RuntimeError, type RuntimeEvent } from '../../../src/identity/runtime.js';

const ID = 'c'.repeat(64);
const SANDBOX = 's'.repeat(10) + 'a'.repeat(54);
const IMAGE_ID = 'sha256:' + 'e'.repeat(64);
const UID = '0f0e0d0c-0b0a-4000-8000-000000000001';
const DIGEST_REF = 'registry.example.com/billing@sha256:' + 'd'.repeat(64);

type Answers = Partial<Record<CriMethod, (req: Record<string, unknown>) => Record<string, unknown>>>;

function good(): Answers {
  return {
    Version: () => ({ runtime_name: 'containerd' }),
    ListContainers: () => ({ containers: [{ id: ID, pod_sandbox_id: SANDBOX, state: 'CONTAINER_RUNNING' }] }),
    ContainerStatus: () => ({
      status: {
        id: ID,
        metadata: { name: 'app' },
        state: 'CONTAINER_RUNNING',
        image: { image: 'registry.example.com/billing:1' },
        image_ref: DIGEST_REF,
        labels: { 'io.kubernetes.pod.namespace': 'payments', 'io.kubernetes.pod.uid': UID, 'pal.labels': 'x' },
      },
      info: { info: JSON.stringify({ sandboxID: SANDBOX, pid: 4242 }) },
    }),
    PodSandboxStatus: () => ({
      status: { id: SANDBOX, metadata: { name: 'api-7d9', namespace: 'payments', uid: UID } },
    }),
    ImageStatus: () => ({
      image: { id: IMAGE_ID, repo_tags: ['registry.example.com/billing:1'], repo_digests: [DIGEST_REF] },
      info: { info: JSON.stringify({ imageSpec: { config: { Labels: { 'pal.labels': 'billing' } } } }) },
    }),
  };
}

function fakeCall(answers: Answers, calls: CriMethod[] = []): CriCall {
  return async (method, request) => {
    calls.push(method);
    const answer = answers[method];
    if (answer === undefined) throw new RuntimeError('unreachable', `fake: ${method} down`);
    return answer(request as Record<string, unknown>);
  };
}

test('a pod container: pid from the verbose info, pod from its sandbox, image by its repo digest', async (t) => {
  const runtime = createCriRuntime({ address: 'unix:///x.sock', call: fakeCall(good()) });
  const c = await runtime.inspectContainer(ID);
  t.like(c, { id: ID, name: 'app', imageId: IMAGE_ID, imageRef: DIGEST_REF, running: true, pid: 4242 });
  t.is(c.runtime, 'containerd');
  t.deepEqual(c.pod, { namespace: 'payments', name: 'api-7d9', uid: UID, container: 'app' });
  const image = await runtime.inspectImage(IMAGE_ID);
  t.deepEqual(image.repoDigests, [DIGEST_REF]);
  t.deepEqual({ ...image.labels }, { 'pal.labels': 'billing' });
});

const hostile: Array<[string, (a: Answers) => Answers, RegExp]> = [
  [
    'a container label naming another pod uid than the sandbox',
    (a) => ({
      ...a,
      ContainerStatus: (r) => {
        const answer = a.ContainerStatus!(r) as { status: { labels: Record<string, string> } };
        answer.status.labels['io.kubernetes.pod.uid'] = '0f0e0d0c-0b0a-4000-8000-000000000002';
        return answer;
      },
    }),
    /io\.kubernetes\.pod\.uid=.* disagrees with its pod sandbox/,
  ],
  [
    'the status and the list disagreeing on the sandbox',
    (a) => ({
      ...a,
      ContainerStatus: (r) => ({
        ...a.ContainerStatus!(r),
        info: { info: JSON.stringify({ sandboxID: 'other', pid: 1 }) },
      }),
    }),
    /disagree on its pod/,
  ],
  [
    'an answer about another container',
    (a) => ({ ...a, ContainerStatus: (r) => ({ ...a.ContainerStatus!(r), status: { id: 'f'.repeat(64) } }) }),
    /another container/,
  ],
  [
    'verbose info that is not JSON',
    (a) => ({ ...a, ContainerStatus: (r) => ({ ...a.ContainerStatus!(r), info: { info: '{' } }) }),
    /not JSON/,
  ],
  [
    'an oversized verbose info',
    (a) => ({ ...a, ContainerStatus: (r) => ({ ...a.ContainerStatus!(r), info: { info: ' '.repeat(2 << 20) } }) }),
    /larger than/,
  ],
  [
    'a pod uid that is not a uuid',
    (a) => ({ ...a, PodSandboxStatus: () => ({ status: { metadata: { name: 'p', namespace: 'n', uid: '../x' } } }) }),
    /not a uuid/,
  ],
  [
    'a namespace outside DNS-1123',
    (a) => ({ ...a, PodSandboxStatus: () => ({ status: { metadata: { name: 'p', namespace: 'N S', uid: UID } } }) }),
    /not named namespace\/pod\/container/,
  ],
  ['no sandbox status', (a) => ({ ...a, PodSandboxStatus: () => ({ status: null }) }), /sandbox .* not found/],
  [
    'an image id that is not a digest',
    (a) => ({ ...a, ImageStatus: () => ({ image: { id: 'latest' } }) }),
    /is not sha256/,
  ],
  ['the container not listed', (a) => ({ ...a, ListContainers: () => ({ containers: [] }) }), /not listed/],
];

for (const [what, mutate, reason] of hostile) {
  test(`refused, never guessed: ${what}`, async (t) => {
    const runtime = createCriRuntime({ address: 'unix:///x.sock', call: fakeCall(mutate(good())) });
    const err = await t.throwsAsync(runtime.inspectContainer(ID), { instanceOf: RuntimeError });
    t.regex(err.message, reason);
  });
}

test('a container that is not running has no pid; a malformed id or pod path is refused before any call', async (t) => {
  const a = good();
  const calls: CriMethod[] = [];
  const runtime = createCriRuntime({
    address: 'unix:///x.sock',
    call: fakeCall(
      {
        ...a,
        ContainerStatus: (r) => ({
          ...a.ContainerStatus!(r),
          status: { ...(a.ContainerStatus!(r).status as object), state: 'CONTAINER_EXITED' },
        }),
      },
      calls,
    ),
  });
  t.like(await runtime.inspectContainer(ID), { running: false, pid: 0 });
  calls.length = 0;
  for (const bad of ['ABC', 'a/b/c/d', '../x', 'x'.repeat(300)]) {
    await t.throwsAsync(runtime.inspectContainer(bad), { instanceOf: RuntimeError, message: /neither a container id/ });
  }
  t.deepEqual(calls, []);
});

test('namespace/pod[/container] finds the running container by its kubelet labels', async (t) => {
  const a = good();
  let selector: unknown;
  const runtime = createCriRuntime({
    address: 'unix:///x.sock',
    call: fakeCall({
      ...a,
      ListContainers: (r) => {
        const filter = r['filter'] as { label_selector?: unknown };
        if (filter.label_selector !== undefined) selector = filter.label_selector;
        return a.ListContainers!(r);
      },
    }),
  });
  t.is((await runtime.inspectContainer('payments/api-7d9/app')).id, ID);
  t.deepEqual(selector, {
    'io.kubernetes.pod.namespace': 'payments',
    'io.kubernetes.pod.name': 'api-7d9',
    'io.kubernetes.container.name': 'app',
  });
});

test('the poll: connected once listed, a new container is a start hint, a vanished one is reported, the runtime down disconnects', async (t) => {
  let running = [ID];
  let down = false;
  const a = good();
  const runtime = createCriRuntime({
    address: 'unix:///x.sock',
    pollIntervalMs: 10,
    call: async (method, request) => {
      if (down) throw new RuntimeError('unreachable', 'CRI runtime unreachable (fake)');
      if (method === 'ListContainers') return { containers: running.map((id) => ({ id })) };
      return fakeCall(a)(method, request);
    },
  });
  const seen: string[] = [];
  const events: RuntimeEvent[] = [];
  const stop = runtime.watch({
    onConnected: () => seen.push('connected'),
    onDisconnected: (reason) => seen.push(`disconnected: ${reason}`),
    onEvent: (e) => events.push(e),
  });
  t.teardown(stop);
  const until = async (what: () => boolean): Promise<void> => {
    const deadline = Date.now() + 5_000;
    while (!what()) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await until(() => seen.includes('connected'));
  t.deepEqual(events, [], 'containers running at the first listing are no start hints');
  const NEW = 'e'.repeat(64);
  running = [ID, NEW];
  await until(() => events.length === 1);
  t.deepEqual(events, [{ type: 'container', action: 'start', id: NEW }]);
  running = [];
  await until(() => events.length === 3);
  t.deepEqual(events.slice(1), [
    { type: 'container', action: 'die', id: ID },
    { type: 'container', action: 'die', id: NEW },
  ]);
  down = true;
  await until(() => seen.some((s) => s.startsWith('disconnected')));
  const before = seen.length;
  await new Promise((r) => setTimeout(r, 50));
  t.is(seen.length, before, 'an outage is reported once, not every poll');
  down = false;
  await until(() => seen.filter((s) => s === 'connected').length === 2);
  t.pass();
});
