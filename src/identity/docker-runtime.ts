// The Docker Engine API through dockerode: inspects, answers bounded and translated into
// RuntimeError, and the event subscription (docker-events.ts).

import Docker from 'dockerode';
import type { IncomingMessage } from 'node:http';
import { watchDockerEvents } from './docker-events.js';
import {
  RuntimeError,
  type ContainerRuntime,
  type RuntimeContainer,
  type RuntimeImage,
  type RuntimeWatchHandlers,
} from './runtime.js';

export { parseEvent } from './docker-events.js';

export interface DockerRuntimeOptions {
  /** unix:///path/docker.sock, tcp://host:port, http://host:port or https://host:port */
  readonly dockerHost: string;
  /** Per-request timeout for inspects (the event stream has none). */
  readonly requestTimeoutMs?: number;
  readonly log?: (msg: string) => void;
}

const NAME_OR_ID = /^\/?[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;
export const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;
const CONTAINER_ID = /^[0-9a-f]{64}$/;

/** dockerode's modem options for one endpoint string. */
export function dockerConnection(dockerHost: string): Docker.DockerOptions {
  // docker-modem merges DOCKER_HOST & co. from the environment *under* what we pass: every
  // field is set explicitly so that only the configured endpoint is used.
  const none = { socketPath: undefined, host: undefined, port: undefined, protocol: undefined } as const;
  if (dockerHost.startsWith('unix://')) {
    const socketPath = dockerHost.slice('unix://'.length);
    if (!socketPath.startsWith('/')) throw new Error(`docker host ${dockerHost}: unix socket path must be absolute`);
    return { ...none, socketPath, timeout: undefined };
  }
  let url: URL;
  try {
    url = new URL(dockerHost);
  } catch {
    throw new Error(`docker host ${JSON.stringify(dockerHost)} is not unix:///path or tcp://host:port`);
  }
  const protocol =
    url.protocol === 'https:' ? 'https' : url.protocol === 'tcp:' || url.protocol === 'http:' ? 'http' : undefined;
  if (protocol === undefined || url.hostname === '' || url.port === '') {
    throw new Error(`docker host ${JSON.stringify(dockerHost)} is not unix:///path or tcp://host:port`);
  }
  return { ...none, host: url.hostname, port: Number(url.port), protocol };
}

export function createDockerRuntime(options: DockerRuntimeOptions): ContainerRuntime {
  const endpoint = options.dockerHost;
  const connection = dockerConnection(endpoint);
  const requests = new Docker({ ...connection, timeout: options.requestTimeoutMs ?? 5_000 });
  // The event stream is long-lived and mostly idle: no request timeout on it.
  const events = new Docker(connection);
  containErrorAnswers(requests.modem);
  containErrorAnswers(events.modem);
  const log = options.log ?? (() => {});

  function translate(err: unknown, what: string): RuntimeError {
    if (err instanceof RuntimeError) return err;
    const e = (typeof err === 'object' && err !== null ? err : {}) as {
      statusCode?: unknown;
      message?: unknown;
      json?: unknown;
    };
    const text = (v: unknown): string => (typeof v === 'string' ? v.slice(0, MAX_ERROR_TEXT) : '');
    if (e.statusCode === 404) return new RuntimeError('not-found', `${what} not found in docker at ${endpoint}`);
    if (typeof e.statusCode === 'number') {
      const said = isObject(e.json) ? text(e.json['message']) : '';
      return new RuntimeError(
        'error',
        `docker at ${endpoint} answered ${e.statusCode} for ${what}: ${said || text(e.message)}`,
      );
    }
    return new RuntimeError('unreachable', `docker unreachable at ${endpoint}: ${text(e.message) || safeString(err)}`);
  }

  return {
    endpoint,
    serves: ['docker', 'podman'],

    async inspectContainer(idOrName: string): Promise<RuntimeContainer> {
      if (!NAME_OR_ID.test(idOrName))
        throw new RuntimeError('invalid', `not a container id or name: ${JSON.stringify(idOrName.slice(0, 100))}`);
      const ref = idOrName.replace(/^\//, '');
      let raw: unknown;
      try {
        raw = await requests.getContainer(ref).inspect();
      } catch (err) {
        throw translate(err, `container ${ref}`);
      }
      return containerFromInspect(raw, endpoint);
    },

    async inspectImage(id: string): Promise<RuntimeImage> {
      if (!IMAGE_ID.test(id)) throw new RuntimeError('invalid', `not an image id: ${JSON.stringify(id.slice(0, 100))}`);
      let raw: unknown;
      try {
        raw = await requests.getImage(id).inspect();
      } catch (err) {
        throw translate(err, `image ${id}`);
      }
      return imageFromInspect(raw, id, endpoint);
    },

    watch(handlers: RuntimeWatchHandlers): () => void {
      return watchDockerEvents({ events, endpoint, log, translate }, handlers);
    },
  };
}

export function said(err: unknown): string {
  return err instanceof Error ? err.message.slice(0, MAX_ERROR_TEXT) : safeString(err);
}

/** What an error answer's text may add to a log line. */
const MAX_ERROR_TEXT = 500;
/** An error answer's body is read up to this much; the rest is dropped. */
const MAX_ERROR_BODY = 64 * 1024;

type PayloadCallback = (err: unknown, value: unknown) => void;
interface ModemInternals {
  buildPayload: (
    this: unknown,
    err: unknown,
    isStream: boolean,
    statusCodes: Record<string, unknown>,
    openStdin: boolean,
    req: unknown,
    res: IncomingMessage,
    json: unknown,
    cb: PayloadCallback,
  ) => void;
}

/**
 * docker-modem (5.0.x) builds the error for a non-2xx answer with
 * `'…' + (cause.message || cause.error || cause)`, on the endpoint's JSON: a body such as
 * {"message":{"toString":1}} makes that concatenation throw a TypeError inside its HTTP response
 * callback — an uncaught exception (pald exits) and a request that never settles. A compromised
 * or impostor Docker endpoint must not be able to do that, so this instance's modem builds error
 * answers itself, from a bounded body whose `message` is used only if it is a string, and any
 * other throw on the way becomes the request's error. Successful answers are untouched.
 */
export function containErrorAnswers(modem: unknown): void {
  const m = modem as ModemInternals;
  const original = m.buildPayload;
  if (typeof original !== 'function') throw new Error('docker-modem changed: no buildPayload to contain');
  m.buildPayload = function (err, isStream, statusCodes, openStdin, req, res, json, cb) {
    let settled = false;
    const once: PayloadCallback = (e, v) => {
      if (settled) return;
      settled = true;
      cb(e, v);
    };
    try {
      if (!err && statusCodes[String(res.statusCode)] !== true) {
        const status = res.statusCode ?? 0;
        const reason = statusCodes[String(status)];
        const fail = (body: unknown): void =>
          once(errorAnswer(status, typeof reason === 'string' ? reason : 'unexpected', body), null);
        if (!isStream) return fail(json);
        // A streamed request's error body is still unread: read a bounded amount of it.
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (text.length < MAX_ERROR_BODY) text += chunk.slice(0, MAX_ERROR_BODY - text.length);
        });
        res.on('error', (e: Error) => once(e, null));
        res.on('end', () => fail(parseJsonOrText(text)));
        res.on('close', () => fail(parseJsonOrText(text)));
        return;
      }
      original.call(this, err, isStream, statusCodes, openStdin, req, res, json, once);
    } catch (thrown) {
      once(thrown, null);
    }
  };
}

/** The error docker-modem would have made, from values checked for their type. */
function errorAnswer(
  status: number,
  reason: string,
  body: unknown,
): Error & { statusCode: number; reason: string; json: unknown } {
  const said =
    isObject(body) && typeof body['message'] === 'string' ? body['message'] : typeof body === 'string' ? body : '';
  const err = new Error(`(HTTP code ${status}) ${reason} - ${said.slice(0, MAX_ERROR_TEXT)}`) as Error & {
    statusCode: number;
    reason: string;
    json: unknown;
  };
  err.statusCode = status;
  err.reason = reason;
  err.json = isObject(body) && typeof body['message'] === 'string' ? { message: body['message'] } : null;
  return err;
}

function parseJsonOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function safeString(value: unknown): string {
  try {
    return String(value).slice(0, MAX_ERROR_TEXT);
  } catch {
    return 'an error that cannot be printed';
  }
}

function containerFromInspect(raw: unknown, endpoint: string): RuntimeContainer {
  const bad = (what: string): RuntimeError =>
    new RuntimeError('error', `docker at ${endpoint}: container inspect has ${what}`);
  if (!isObject(raw)) throw bad('no body');
  const id = raw['Id'];
  if (typeof id !== 'string' || !CONTAINER_ID.test(id)) throw bad('no valid Id');
  const imageId = raw['Image'];
  if (typeof imageId !== 'string' || !IMAGE_ID.test(imageId)) throw bad(`no valid image id for ${id}`);
  const state = isObject(raw['State']) ? raw['State'] : {};
  const config = isObject(raw['Config']) ? raw['Config'] : {};
  const pid = state['Pid'];
  const name = typeof raw['Name'] === 'string' ? raw['Name'].replace(/^\//, '') : '';
  return {
    id,
    name,
    imageId,
    imageRef: typeof config['Image'] === 'string' ? config['Image'] : '',
    running: state['Running'] === true,
    pid: typeof pid === 'number' && Number.isSafeInteger(pid) && pid > 0 ? pid : 0,
    labels: stringRecord(config['Labels']),
  };
}

function imageFromInspect(raw: unknown, id: string, endpoint: string): RuntimeImage {
  if (!isObject(raw) || raw['Id'] !== id) {
    throw new RuntimeError('error', `docker at ${endpoint}: image inspect of ${id} returned another id`);
  }
  const config = isObject(raw['Config']) ? raw['Config'] : {};
  return {
    id,
    repoTags: stringArray(raw['RepoTags']),
    repoDigests: stringArray(raw['RepoDigests']),
    labels: stringRecord(config['Labels']),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringArray(value: unknown): string[] {
  return Array.isArray(value)
    ? value.filter((v): v is string => typeof v === 'string' && v !== '<none>:<none>' && v !== '<none>@<none>')
    : [];
}

function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  if (!isObject(value)) return out;
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out;
}
