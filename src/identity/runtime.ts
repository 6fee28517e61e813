// What the resolver needs from a container runtime. Docker's Engine API (docker-runtime.ts) is
// the one implementation today; podman's Docker-compatible socket works through it, and a
// containerd client for Kubernetes nodes can implement the same interface later.

export interface RuntimeContainer {
  readonly id: string;
  /** Without the leading slash. */
  readonly name: string;
  /** sha256:<64 hex> of the image config. */
  readonly imageId: string;
  /** Config.Image: the reference the container was created from. */
  readonly imageRef: string;
  readonly running: boolean;
  /** Host pid of the container's init process; 0 when not running. */
  readonly pid: number;
  /** Config.Labels: image labels merged with `docker run --label` ones. */
  readonly labels: Readonly<Record<string, string>>;
}

export interface RuntimeImage {
  readonly id: string;
  readonly repoTags: readonly string[];
  readonly repoDigests: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

export type RuntimeErrorKind = 'not-found' | 'unreachable' | 'invalid' | 'error';

export class RuntimeError extends Error {
  constructor(
    readonly kind: RuntimeErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'RuntimeError';
  }
}

export type RuntimeEvent =
  | { readonly type: 'container'; readonly action: 'die' | 'destroy' | 'rename'; readonly id: string }
  | { readonly type: 'image'; readonly action: 'delete' | 'untag' | 'tag'; readonly id: string };

export interface RuntimeWatchHandlers {
  /** The event stream is (re)connected: anything cached before may have missed events. */
  onConnected(): void;
  onDisconnected(reason: string): void;
  onEvent(event: RuntimeEvent): void;
}

export interface ContainerRuntime {
  /** Where the runtime is reached, for reasons and status (e.g. unix:///var/run/docker.sock). */
  readonly endpoint: string;
  /** Rejects with RuntimeError. */
  inspectContainer(idOrName: string): Promise<RuntimeContainer>;
  /** Rejects with RuntimeError. */
  inspectImage(id: string): Promise<RuntimeImage>;
  /** Subscribe to invalidating events, reconnecting by itself until the returned stop() is called. */
  watch(handlers: RuntimeWatchHandlers): () => void;
}
