// Several runtimes on one host (Docker and a Kubernetes node's CRI runtime, both configured) behind
// the one ContainerRuntime the resolver talks to. Container ids are random 64-hex and each runtime
// knows only its own: the one that knows an id answers; an id none knows is not found. While any
// runtime is unreachable its containers cannot be inspected, so the set is only "connected" when
// every member is: records kept meanwhile are re-checked once all are back.

import {
  RuntimeError,
  type ContainerRuntime,
  type RuntimeContainer,
  type RuntimeHint,
  type RuntimeImage,
  type RuntimeWatchHandlers,
} from './runtime.js';

/** Bound on remembered image → runtime routes (one per distinct image of a running container). */
const MAX_IMAGE_ROUTES = 4_096;

function serves(runtime: ContainerRuntime, hint: RuntimeHint): boolean {
  return runtime.serves?.includes(hint) ?? false;
}

export function createRuntimeSet(members: readonly ContainerRuntime[]): ContainerRuntime {
  if (members.length === 0) throw new Error('no container runtime configured');
  if (members.length === 1) return members[0]!;
  /** Which runtime last reported a container of each image: its names for the image are the ones that count. */
  const imageRoutes = new Map<string, ContainerRuntime>();

  async function firstKnowing<T>(
    what: string,
    ask: (runtime: ContainerRuntime) => Promise<T>,
    hint?: RuntimeHint,
  ): Promise<T> {
    let failure: RuntimeError | undefined;
    const notFound: string[] = [];
    // The runtime whose cgroup shape the caller has is asked first; the others still are (a bare
    // id under kubepods may be dockershim's, and a shape says nothing about who is configured).
    const ordered =
      hint === undefined ? members : [...members].sort((a, b) => Number(serves(b, hint)) - Number(serves(a, hint)));
    for (const runtime of ordered) {
      try {
        return await ask(runtime);
      } catch (err) {
        const e = err instanceof RuntimeError ? err : new RuntimeError('error', String(err));
        if (e.kind === 'not-found') notFound.push(runtime.endpoint);
        else failure ??= e;
      }
    }
    // One runtime down: the id may be its container, so the caller fails closed with that reason.
    if (failure !== undefined) throw failure;
    throw new RuntimeError('not-found', `${what} not found in any configured runtime (${notFound.join(', ')})`);
  }

  return {
    endpoint: members.map((m) => m.endpoint).join(', '),

    async inspectContainer(idOrName: string, hint?: RuntimeHint): Promise<RuntimeContainer> {
      return firstKnowing(
        `container ${idOrName.slice(0, 80)}`,
        async (runtime) => {
          const container = await runtime.inspectContainer(idOrName);
          if (imageRoutes.size >= MAX_IMAGE_ROUTES) imageRoutes.clear();
          imageRoutes.set(container.imageId, runtime);
          return container;
        },
        hint,
      );
    },

    async inspectImage(id: string): Promise<RuntimeImage> {
      const routed = imageRoutes.get(id);
      if (routed !== undefined) return routed.inspectImage(id);
      return firstKnowing(`image ${id.slice(0, 80)}`, (runtime) => runtime.inspectImage(id));
    },

    watch(handlers: RuntimeWatchHandlers): () => void {
      const up = members.map(() => false);
      const stops = members.map((runtime, index) =>
        runtime.watch({
          onConnected() {
            up[index] = true;
            if (up.every(Boolean)) handlers.onConnected();
          },
          onDisconnected(reason) {
            up[index] = false;
            handlers.onDisconnected(`${runtime.endpoint}: ${reason}`);
          },
          onEvent: (event) => handlers.onEvent(event),
        }),
      );
      return () => {
        for (const stop of stops) stop();
      };
    },
  };
}
