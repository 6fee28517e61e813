// The CRI gRPC services (runtime.v1 RuntimeService + ImageService) over a unix socket, loaded from
// the project's trimmed copy of the CRI proto. Every call has a deadline and a bounded answer;
// failures come back as RuntimeError so the resolver treats them like Docker's.

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RuntimeError } from '../runtime.js';
import { criAddressProblem } from './address.js';

/** Largest answer accepted: a ListContainers of a few thousand containers fits; more is hostile. */
const MAX_RECEIVE_BYTES = 8 * 1024 * 1024;

export interface CriClientOptions {
  /** unix:///run/containerd/containerd.sock (the only transport a node's runtime serves CRI on). */
  readonly address: string;
  /** Deadline of one call, ms. */
  readonly requestTimeoutMs: number;
}

/** One unary call: request object in, decoded response object out (fields as in the proto, snake_case). */
export type CriCall = (method: CriMethod, request: object) => Promise<Record<string, unknown>>;

export type CriMethod = 'Version' | 'ContainerStatus' | 'PodSandboxStatus' | 'ListContainers' | 'ImageStatus';

const IMAGE_METHODS: ReadonlySet<CriMethod> = new Set(['ImageStatus']);

export interface CriClient {
  readonly call: CriCall;
  close(): void;
}

/** The trimmed proto: next to the compiled module if a build copied it, else in the source tree. */
function protoPath(): string {
  const beside = fileURLToPath(new URL('./runtime-v1.proto', import.meta.url));
  if (existsSync(beside)) return beside;
  return fileURLToPath(new URL('../../../../src/identity/cri/runtime-v1.proto', import.meta.url));
}

let loaded: grpc.GrpcObject | undefined;
function criPackage(): grpc.GrpcObject {
  if (loaded === undefined) {
    const definition = protoLoader.loadSync(protoPath(), {
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    loaded = grpc.loadPackageDefinition(definition);
  }
  return loaded;
}

export function createCriClient(options: CriClientOptions): CriClient {
  const problem = criAddressProblem(options.address);
  if (problem !== undefined) throw new Error(`cri.address ${problem}`);
  const pkg = criPackage() as unknown as {
    runtime: { v1: { RuntimeService: grpc.ServiceClientConstructor; ImageService: grpc.ServiceClientConstructor } };
  };
  const channelOptions: grpc.ChannelOptions = {
    'grpc.max_receive_message_length': MAX_RECEIVE_BYTES,
    'grpc.max_send_message_length': 64 * 1024,
    // Reconnect quickly once the runtime is back: the poller notices, callers are not kept waiting.
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 2_000,
  };
  const credentials = grpc.credentials.createInsecure();
  const runtimeService = new pkg.runtime.v1.RuntimeService(options.address, credentials, channelOptions);
  const imageService = new pkg.runtime.v1.ImageService(options.address, credentials, channelOptions);

  const call: CriCall = (method, request) =>
    new Promise((resolve, reject) => {
      const client = IMAGE_METHODS.has(method) ? imageService : runtimeService;
      const fn = (client as unknown as Record<string, grpc.requestCallback<unknown> | undefined>)[method] as
        | ((
            req: object,
            meta: grpc.Metadata,
            opts: grpc.CallOptions,
            cb: (err: grpc.ServiceError | null, res?: unknown) => void,
          ) => void)
        | undefined;
      if (fn === undefined) {
        reject(new RuntimeError('error', `CRI method ${method} is not in the proto`));
        return;
      }
      const deadline = new Date(Date.now() + options.requestTimeoutMs);
      fn.call(client, request, new grpc.Metadata(), { deadline }, (err, res) => {
        if (err) reject(translate(err, method, options.address));
        else if (typeof res !== 'object' || res === null) {
          reject(new RuntimeError('invalid', `CRI ${method} at ${options.address} answered no message`));
        } else resolve(res as Record<string, unknown>);
      });
    });

  return {
    call,
    close() {
      runtimeService.close();
      imageService.close();
    },
  };
}

function translate(err: grpc.ServiceError, method: CriMethod, address: string): RuntimeError {
  const detail = String(err.details ?? err.message ?? '').slice(0, 300);
  switch (err.code) {
    case grpc.status.NOT_FOUND:
      return new RuntimeError('not-found', `CRI ${method}: not found at ${address}: ${detail}`);
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
    case grpc.status.CANCELLED:
      return new RuntimeError('unreachable', `CRI runtime unreachable at ${address} (${method}): ${detail}`);
    case grpc.status.RESOURCE_EXHAUSTED:
      return new RuntimeError('invalid', `CRI ${method} at ${address}: answer too large: ${detail}`);
    default:
      return new RuntimeError('error', `CRI ${method} at ${address} failed (code ${err.code}): ${detail}`);
  }
}
