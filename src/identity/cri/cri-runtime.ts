// ContainerRuntime over CRI (containerd's or CRI-O's runtime.v1 service): a container id becomes
// ContainerStatus (verbose, for the pid) + the pod sandbox's metadata (pod name, namespace, uid)
// + ImageStatus (id, repo digests, config labels). CRI has no event stream worth relying on in the
// runtimes of Debian 12, so invalidation is a cheap periodic ListContainers: a container gone or
// no longer running is reported as destroyed/dead, and a failed poll as a disconnect (the resolver
// then fails new callers closed and re-verifies what it holds once a poll succeeds again).

import { errorMessage } from '../../shared/error-message.js';
import {
  RuntimeError,
  type ContainerRuntime,
  type PodRef,
  type RuntimeContainer,
  type RuntimeImage,
  type RuntimeWatchHandlers,
} from '../runtime.js';
import { createCriClient, type CriCall, type CriClient } from './cri-client.js';
import { field, imageConfigLabels, podOf, stringMap, text, verboseInfo } from './cri-fields.js';

export interface CriRuntimeOptions {
  readonly address: string;
  /** Deadline of one CRI call, ms (default 5000). */
  readonly requestTimeoutMs?: number;
  /** How often running containers are listed to notice deletions, ms (default 2000). */
  readonly pollIntervalMs?: number;
  readonly log?: (msg: string) => void;
  /** Tests: a CRI call other than the gRPC one (pal's own interface, faked in unit tests). */
  readonly call?: CriCall;
}

const CONTAINER_ID = /^[0-9a-f]{64}$/;
const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;
/** namespace/pod[/container] as `pal explain` accepts it: DNS-1123 names. */
const POD_PATH = /^([a-z0-9][a-z0-9.-]{0,252})\/([a-z0-9][a-z0-9.-]{0,252})(?:\/([a-z0-9][a-z0-9-]{0,62}))?$/;

/** What the runtime's requests share: the CRI call, where it goes, and the runtime's name once asked. */
interface CriContext {
  readonly call: CriCall;
  readonly endpoint: string;
  /** 'cri' until the runtime has said its own name (containerd, cri-o). */
  runtimeName: string;
}

export function createCriRuntime(options: CriRuntimeOptions): ContainerRuntime {
  const endpoint = options.address;
  let client: CriClient | undefined;
  if (options.call === undefined) {
    client = createCriClient({ address: endpoint, requestTimeoutMs: options.requestTimeoutMs ?? 5_000 });
  }
  const ctx: CriContext = { call: options.call ?? client!.call, endpoint, runtimeName: 'cri' };
  return {
    get endpoint() {
      return endpoint;
    },
    serves: ['containerd', 'cri-o', 'kubernetes'],

    async inspectContainer(idOrName: string): Promise<RuntimeContainer> {
      try {
        if (CONTAINER_ID.test(idOrName)) return await inspectById(ctx, idOrName);
        const podPath = POD_PATH.exec(idOrName);
        if (podPath !== null) return await inspectById(ctx, await findByPodPath(ctx, podPath));
        throw new RuntimeError(
          'invalid',
          `${JSON.stringify(idOrName.slice(0, 80))} is neither a container id nor namespace/pod[/container]`,
        );
      } catch (err) {
        throw asRuntimeError(err, endpoint);
      }
    },

    async inspectImage(id: string): Promise<RuntimeImage> {
      if (!IMAGE_ID.test(id))
        throw new RuntimeError('invalid', `image id ${JSON.stringify(id.slice(0, 80))} is malformed`);
      try {
        const image = await imageStatus(ctx, id);
        if (image.id !== id) throw new RuntimeError('invalid', `CRI answered image ${image.id} for ${id}`);
        return image;
      } catch (err) {
        throw asRuntimeError(err, endpoint);
      }
    },

    watch(handlers: RuntimeWatchHandlers): () => void {
      const stop = pollRunning(ctx, handlers, options.pollIntervalMs ?? 2_000, options.log ?? (() => {}));
      return () => {
        stop();
        client?.close();
      };
    },
  };
}

/**
 * CRI has no event stream pald can rely on: poll the running containers, report each one that stopped as
 * a "die" event, and connected/disconnected once per change. Returns the function that stops polling.
 */
function pollRunning(
  ctx: CriContext,
  handlers: RuntimeWatchHandlers,
  interval: number,
  log: (line: string) => void,
): () => void {
  let stopped = false;
  let connected = false;
  let reportedDown = false;
  let timer: NodeJS.Timeout | undefined;
  /** Containers running at the last successful poll. */
  let running = new Set<string>();
  let listedOnce = false;

  const poll = async (): Promise<void> => {
    try {
      if (!connected) await nameRuntime(ctx);
      const answer = await ctx.call('ListContainers', { filter: { state: { state: 'CONTAINER_RUNNING' } } });
      if (stopped) return;
      const now = new Set<string>();
      for (const c of Array.isArray(answer['containers']) ? (answer['containers'] as unknown[]) : []) {
        const id = typeof c === 'object' && c !== null ? text((c as Record<string, unknown>)['id']) : '';
        if (CONTAINER_ID.test(id)) now.add(id);
      }
      if (!connected) {
        connected = true;
        handlers.onConnected();
      }
      for (const id of running) if (!now.has(id)) handlers.onEvent({ type: 'container', action: 'die', id });
      // Containers new since the last listing: a hint to attribute them before their first open
      // (not at the first listing: those were running before pald, and are attributed on demand).
      if (listedOnce)
        for (const id of now) if (!running.has(id)) handlers.onEvent({ type: 'container', action: 'start', id });
      listedOnce = true;
      running = now;
    } catch (err) {
      if (stopped) return;
      // Once per outage: the poll keeps failing every interval until the runtime is back.
      if (connected || !reportedDown) {
        log(`identity: CRI runtime at ${ctx.endpoint}: ${errorMessage(err)}`);
        handlers.onDisconnected(errorMessage(err));
      }
      connected = false;
      reportedDown = true;
    } finally {
      if (!stopped) {
        timer = setTimeout(() => void poll(), interval);
        timer.unref();
      }
    }
  };
  void poll();
  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
  };
}

async function containerStatus(
  ctx: CriContext,
  id: string,
): Promise<{ status: Record<string, unknown>; info: unknown }> {
  const answer = await ctx.call('ContainerStatus', { container_id: id, verbose: true });
  const status = field(answer, 'status');
  if (status === undefined)
    throw new RuntimeError('not-found', `container ${id.slice(0, 12)} not found in ${ctx.endpoint}`);
  return { status, info: verboseInfo(answer) };
}

/** The sandbox id, from ListContainers (standard CRI; the verbose info is runtime-specific). */
async function sandboxOf(ctx: CriContext, id: string): Promise<string> {
  const answer = await ctx.call('ListContainers', { filter: { id } });
  const list = Array.isArray(answer['containers']) ? (answer['containers'] as unknown[]) : [];
  const match = list.find((c) => typeof c === 'object' && c !== null && (c as Record<string, unknown>)['id'] === id);
  const sandbox = match === undefined ? '' : text((match as Record<string, unknown>)['pod_sandbox_id']);
  if (sandbox === '') throw new RuntimeError('not-found', `container ${id.slice(0, 12)} not listed by ${ctx.endpoint}`);
  return sandbox;
}

async function podSandbox(ctx: CriContext, sandboxId: string): Promise<Record<string, unknown>> {
  const answer = await ctx.call('PodSandboxStatus', { pod_sandbox_id: sandboxId, verbose: false });
  const status = field(answer, 'status');
  if (status === undefined) throw new RuntimeError('not-found', `pod sandbox ${sandboxId.slice(0, 12)} not found`);
  return status;
}

async function imageStatus(ctx: CriContext, ref: string): Promise<RuntimeImage> {
  const answer = await ctx.call('ImageStatus', { image: { image: ref }, verbose: true });
  const image = field(answer, 'image');
  if (image === undefined) throw new RuntimeError('not-found', `image ${ref} not found in ${ctx.endpoint}`);
  const id = text(image['id']);
  if (!IMAGE_ID.test(id))
    throw new RuntimeError('invalid', `image ${ref}: id ${JSON.stringify(id)} is not sha256:<64 hex>`);
  const strings = (v: unknown): string[] =>
    Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string' && s.length <= 1024).slice(0, 256) : [];
  const info = verboseInfo(answer);
  return {
    id,
    repoTags: strings(image['repo_tags']),
    repoDigests: strings(image['repo_digests']),
    labels: imageConfigLabels(info),
  };
}

/** The runtime's own name (containerd, cri-o) for identities; asked once. */
async function nameRuntime(ctx: CriContext): Promise<void> {
  if (ctx.runtimeName !== 'cri') return;
  const name = text((await ctx.call('Version', { version: 'v1' }))['runtime_name']);
  if (/^[A-Za-z0-9._-]{1,40}$/.test(name)) ctx.runtimeName = name;
}

async function inspectById(ctx: CriContext, id: string): Promise<RuntimeContainer> {
  await nameRuntime(ctx);
  const [{ status, info }, sandboxId] = await Promise.all([containerStatus(ctx, id), sandboxOf(ctx, id)]);
  if (text(status['id']) !== id)
    throw new RuntimeError('invalid', `CRI answered for another container than ${id.slice(0, 12)}`);
  const infoRecord = typeof info === 'object' && info !== null ? (info as Record<string, unknown>) : {};
  const infoSandbox = infoRecord['sandboxID'];
  if (typeof infoSandbox === 'string' && infoSandbox !== '' && infoSandbox !== sandboxId) {
    throw new RuntimeError(
      'invalid',
      `container ${id.slice(0, 12)}: its status and the container list disagree on its pod`,
    );
  }
  const running = status['state'] === 'CONTAINER_RUNNING';
  const pid = running ? pidOf(infoRecord['pid']) : 0;
  const labels = stringMap(status['labels']);
  const pod: PodRef = podOf(await podSandbox(ctx, sandboxId), field(status, 'metadata'), labels, id);
  // image_ref is the repo digest (REPO@sha256:…) when the runtime knows one, else the image id.
  const imageRef = text(status['image_ref']);
  const image = await imageStatus(ctx, imageRef !== '' ? imageRef : text(field(status, 'image')?.['image']));
  return {
    id,
    name: pod.container,
    imageId: image.id,
    imageRef: imageRef !== '' ? imageRef : image.id,
    running: running && pid > 0,
    pid,
    labels,
    runtime: ctx.runtimeName,
    pod,
  };
}

/** namespace/pod[/container] → the id of its running container (one container, or the one named). */
async function findByPodPath(ctx: CriContext, path: RegExpExecArray): Promise<string> {
  const [, namespace, podName, container] = path;
  const selector: Record<string, string> = {
    'io.kubernetes.pod.namespace': namespace!,
    'io.kubernetes.pod.name': podName!,
    ...(container !== undefined ? { 'io.kubernetes.container.name': container } : {}),
  };
  const answer = await ctx.call('ListContainers', {
    filter: { state: { state: 'CONTAINER_RUNNING' }, label_selector: selector },
  });
  const ids = (Array.isArray(answer['containers']) ? (answer['containers'] as unknown[]) : [])
    .map((c) => (typeof c === 'object' && c !== null ? text((c as Record<string, unknown>)['id']) : ''))
    .filter((c) => CONTAINER_ID.test(c));
  if (ids.length === 0)
    throw new RuntimeError('not-found', `no running container of pod ${path[0]} in ${ctx.endpoint}`);
  if (ids.length > 1)
    throw new RuntimeError('invalid', `pod ${namespace}/${podName} has ${ids.length} containers: name one`);
  return ids[0]!;
}

function pidOf(value: unknown): number {
  const n =
    typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,10}$/.test(value) ? Number(value) : 0;
  return Number.isSafeInteger(n) && n > 0 && n < 2 ** 31 ? n : 0;
}

function asRuntimeError(err: unknown, endpoint: string): RuntimeError {
  if (err instanceof RuntimeError) return err;
  return new RuntimeError('error', `CRI runtime at ${endpoint}: ${errorMessage(err)}`);
}
