// Docker's /events stream: container die/destroy/rename and image delete/untag/tag, the events
// that make a cached identity stale, and container start, the hint to attribute a container early. The stream reconnects by itself with capped backoff when
// dockerd goes away, logs each distinct failure once, and tells the handlers so the resolver can
// treat what it cached meanwhile as doubtful.

import type Docker from 'dockerode';
import type { IncomingMessage } from 'node:http';
import type { RuntimeError, RuntimeEvent, RuntimeWatchHandlers } from './runtime.js';

const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;
const CONTAINER_ID = /^[0-9a-f]{64}$/;
const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 5_000;

export interface DockerEventsDeps {
  /** A client without request timeout (the stream is long-lived and mostly idle). */
  readonly events: Docker;
  readonly endpoint: string;
  readonly log: (msg: string) => void;
  /** A failed connect as a RuntimeError (its message is the reason given to the handlers). */
  readonly translate: (err: unknown, what: string) => RuntimeError;
}

/** Subscribes until the returned stop() is called. */
export function watchDockerEvents(deps: DockerEventsDeps, handlers: RuntimeWatchHandlers): () => void {
  const { events, endpoint, log, translate } = deps;
  let stopped = false;
  let backoff = BACKOFF_FIRST_MS;
  let timer: NodeJS.Timeout | undefined;
  let abort: AbortController | undefined;
  let connected = false;

  let lastLogged: string | undefined;
  const disconnected = (reason: string): void => {
    if (stopped) return;
    if (connected) {
      connected = false;
      log(`docker events: disconnected from ${endpoint}: ${reason}`);
      lastLogged = undefined;
    } else if (reason !== lastLogged) {
      // Once per distinct failure, not once per retry.
      log(`docker events: cannot connect: ${reason}; retrying every ${BACKOFF_MAX_MS / 1000} s at most`);
      lastLogged = reason;
    }
    handlers.onDisconnected(reason);
    timer = setTimeout(connect, backoff);
    timer.unref();
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
  };

  const connect = (): void => {
    if (stopped) return;
    abort = new AbortController();
    const signal = abort.signal;
    events
      .getEvents({
        filters: {
          type: ['container', 'image'],
          event: ['start', 'die', 'destroy', 'rename', 'delete', 'untag', 'tag'],
        },
        abortSignal: signal,
      })
      .then((stream) => {
        if (stopped) {
          (stream as IncomingMessage).destroy();
          return;
        }
        connected = true;
        lastLogged = undefined;
        backoff = BACKOFF_FIRST_MS;
        log(`docker events: connected to ${endpoint}`);
        handlers.onConnected();
        let ended = false;
        const end = (reason: string): void => {
          if (ended) return;
          ended = true;
          disconnected(reason);
        };
        stream.on(
          'data',
          lineReader((line) => {
            const event = parseEvent(line);
            if (event !== undefined) handlers.onEvent(event);
          }),
        );
        stream.on('error', (err: Error) => end(err.message));
        stream.on('end', () => end('event stream ended'));
        stream.on('close', () => end('event stream closed'));
      })
      .catch((err: unknown) => disconnected(translate(err, 'events').message));
  };

  connect();
  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    abort?.abort();
  };
}

/** Feeds the complete lines of a stream's chunks to onLine; a runaway line without newline is dropped. */
function lineReader(onLine: (line: string) => void): (chunk: Buffer) => void {
  let pending = '';
  return (chunk) => {
    pending += chunk.toString('utf8');
    // A runaway line without newline would grow forever: drop it.
    if (pending.length > 1024 * 1024) pending = '';
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      onLine(line);
    }
  };
}

/** One line of the /events stream; anything we don't need or can't read is ignored. */
export function parseEvent(line: string): RuntimeEvent | undefined {
  if (line.trim() === '') return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isObject(raw)) return undefined;
  const type = raw['Type'];
  const action = raw['Action'];
  const actor = raw['Actor'];
  const id = isObject(actor) && typeof actor['ID'] === 'string' ? actor['ID'] : undefined;
  if (id === undefined) return undefined;
  if (type === 'container' && (action === 'start' || action === 'die' || action === 'destroy' || action === 'rename')) {
    return CONTAINER_ID.test(id) ? { type, action, id } : undefined;
  }
  if (type === 'image' && (action === 'delete' || action === 'untag' || action === 'tag')) {
    const imageId = id.startsWith('sha256:') ? id : `sha256:${id}`;
    return IMAGE_ID.test(imageId) ? { type, action, id: imageId } : undefined;
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
