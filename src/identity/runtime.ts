// What the resolver needs from a container runtime. Docker's Engine API (docker-runtime.ts) is
// one implementation (podman's Docker-compatible socket works through it); the CRI client for
// Kubernetes nodes (cri/cri-runtime.ts, containerd and CRI-O) is the other.

import type { ContainerRuntimeHint } from './types.js';

/** A Kubernetes pod's container, as the CRI runtime's pod sandbox names it. */
export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  /** The pod's uid (metadata.uid): also in the pod's cgroup path, which must agree. */
  readonly uid: string;
  /** The container's name in the pod spec. */
  readonly container: string;
}

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
  /** Which runtime answered (docker, containerd, cri-o, …); absent means docker. */
  readonly runtime?: string;
  /** Set by CRI runtimes: the pod the container belongs to. */
  readonly pod?: PodRef;
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
  /** die/destroy/rename make a cached record stale; start is a hint to attribute the container early. */
  | { readonly type: 'container'; readonly action: 'start' | 'die' | 'destroy' | 'rename'; readonly id: string }
  | { readonly type: 'image'; readonly action: 'delete' | 'untag' | 'tag'; readonly id: string };

export interface RuntimeWatchHandlers {
  /** The event stream is (re)connected: anything cached before may have missed events. */
  onConnected(): void;
  onDisconnected(reason: string): void;
  onEvent(event: RuntimeEvent): void;
}

/** Which runtime's naming the caller's cgroup used (cgroup.ts): which to ask first. */
export type RuntimeHint = ContainerRuntimeHint;

export interface ContainerRuntime {
  /** Where the runtime is reached, for reasons and status (e.g. unix:///var/run/docker.sock). */
  readonly endpoint: string;
  /** Which cgroup shapes are this runtime's own (a runtime set asks it first for those). */
  readonly serves?: readonly RuntimeHint[];
  /** Rejects with RuntimeError. `hint`: what the caller's cgroup shape says (only an ordering hint). */
  inspectContainer(idOrName: string, hint?: RuntimeHint): Promise<RuntimeContainer>;
  /** Rejects with RuntimeError. */
  inspectImage(id: string): Promise<RuntimeImage>;
  /** Subscribe to invalidating events, reconnecting by itself until the returned stop() is called. */
  watch(handlers: RuntimeWatchHandlers): () => void;
}
