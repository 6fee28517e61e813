// Container and image inspects answered by a fake Docker endpoint on a unix socket (an impostor
// or compromised dockerd): the translation of its JSON into our types sits inside
// createDockerRuntime (not exported on its own), so it is fuzzed through the real HTTP client
// path, docker-modem included. Every failure must be a RuntimeError; every promise must settle.
import http from 'node:http';
import path from 'node:path';
import fc from 'fast-check';
import { createDockerRuntime } from '../../../src/identity/docker-runtime.js';
import { RuntimeError, type ContainerRuntime } from '../../../src/identity/runtime.js';
import { hostileJsonValue, hostileText, PROTOTYPE_KEYS } from '../mutate.js';
import { HOSTILE_DOCKER_BODIES } from '../shapes.js';
import { timed, type FuzzTarget, type Scale, type Shape } from '../target.js';

const ID = 'fa2546a38baf39bb5fc4bcdc6ace0ea1062c7f056ca5e4eed7db2084ae66be9c';
const IMAGE = `sha256:${'c'.repeat(64)}`;

interface Input {
  readonly what: 'container' | 'image';
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

interface State {
  readonly server: http.Server;
  readonly runtime: ContainerRuntime;
  next: Input;
}

const CONTAINER = JSON.stringify({
  Id: ID,
  Created: '2024-01-01T00:00:00Z',
  Path: 'sleep',
  Args: ['infinity'],
  Name: '/billing-app',
  State: { Status: 'running', Running: true, Paused: false, Pid: 4242, ExitCode: 0 },
  Image: IMAGE,
  Config: {
    Hostname: 'x',
    Image: 'registry.example.com/billing/app:1.0',
    Labels: { 'pal.labels': 'billing', 'com.example': 'x' },
  },
});
const IMAGE_BODY = JSON.stringify({
  Id: IMAGE,
  RepoTags: ['registry.example.com/billing/app:1.0', '<none>:<none>'],
  RepoDigests: [`registry.example.com/billing/app@sha256:${'d'.repeat(64)}`],
  Config: { Labels: { 'pal.labels': 'billing' } },
});
const SEEDS = [CONTAINER, IMAGE_BODY, '{"message":"No such container: x"}', '{"message":"page not found"}'];

function shapes(scale: Scale): Array<Shape<Input>> {
  const out: Array<Shape<Input>> = [];
  for (const body of HOSTILE_DOCKER_BODIES) {
    for (const status of scale === 'full' ? [500, 404, 409] : [500]) {
      out.push({
        name: `21.6 ${status} with ${body.length > 40 ? `${body.slice(0, 40)}…` : body || 'an empty body'}`,
        input: { what: 'container', status, contentType: 'application/json', body },
      });
    }
  }
  const deep = scale === 'full' ? 100_000 : 10_000;
  out.push({
    name: `200 with "[" × ${deep}`,
    input: { what: 'container', status: 200, contentType: 'application/json', body: '['.repeat(deep) },
  });
  for (const k of PROTOTYPE_KEYS) {
    out.push({
      name: `container with ${k} labels and state`,
      input: {
        what: 'container',
        status: 200,
        contentType: 'application/json',
        body: CONTAINER.replace('"Labels":{', `"Labels":{"${k}":"x",`).replace(
          '"State":{',
          `"${k}":{},"State":{"${k}":1,`,
        ),
      },
    });
    out.push({
      name: `image with ${k} labels`,
      input: {
        what: 'image',
        status: 200,
        contentType: 'application/json',
        body: IMAGE_BODY.replace('"Labels":{', `"Labels":{"${k}":"x",`),
      },
    });
  }
  return out;
}

export const target: FuzzTarget<Input, State> = {
  name: 'docker-inspect',
  covers:
    'createDockerRuntime().inspectContainer/inspectImage against a fake endpoint (src/identity/docker-runtime.ts, docker-modem)',
  accepts: [RuntimeError],
  settleMs: 1_000,
  async setup(ctx) {
    const socket = path.join(ctx.workDir, 'docker.sock');
    const state = {
      next: { what: 'container', status: 200, contentType: 'application/json', body: CONTAINER },
    } as State;
    const server = http.createServer((req, res) => {
      req.resume();
      const n = state.next;
      res.writeHead(n.status, { 'content-type': n.contentType, connection: 'close' });
      res.end(n.body);
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    (state as { server: http.Server }).server = server;
    (state as { runtime: ContainerRuntime }).runtime = createDockerRuntime({
      dockerHost: `unix://${socket}`,
      requestTimeoutMs: 500,
    });
    return state;
  },
  async teardown(state) {
    state.server.closeAllConnections();
    await new Promise((resolve) => state.server.close(resolve));
  },
  shapes,
  arbitrary: () =>
    fc.record({
      what: fc.constantFrom('container' as const, 'image' as const),
      status: fc.oneof(
        { weight: 4, arbitrary: fc.constant(200) },
        { weight: 2, arbitrary: fc.constantFrom(404, 500, 409, 400, 304, 204, 301) },
        { weight: 1, arbitrary: fc.integer({ min: 100, max: 599 }) },
      ),
      contentType: fc.constantFrom('application/json', 'application/json', 'text/plain', ''),
      body: fc.oneof(
        {
          weight: 4,
          arbitrary: hostileText(SEEDS, {
            tokens: [
              '"Id"',
              '"Image"',
              '"State"',
              '"Config"',
              '"Labels"',
              '"Pid"',
              '"Running"',
              '"RepoTags"',
              '"message"',
              ID,
              IMAGE,
            ],
            maxLength: 64 * 1024,
          }),
        },
        { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_DOCKER_BODIES) },
        { weight: 1, arbitrary: hostileJsonValue().map((v) => JSON.stringify(v) ?? '') },
        { weight: 1, arbitrary: fc.record({ message: hostileJsonValue(2) }).map((v) => JSON.stringify(v)) },
      ),
    }),
  async check(input, state) {
    state.next = input;
    if (input.what === 'container') {
      const c = await timed(() => state.runtime.inspectContainer(ID));
      if (!/^[0-9a-f]{64}$/.test(c.id) || !/^sha256:[0-9a-f]{64}$/.test(c.imageId))
        return 'container without valid ids';
      if (typeof c.name !== 'string' || typeof c.imageRef !== 'string' || typeof c.running !== 'boolean')
        return 'container fields of the wrong type';
      if (!Number.isSafeInteger(c.pid) || c.pid < 0) return `pid ${c.pid}`;
      if (!Object.values(c.labels).every((v) => typeof v === 'string') || Object.getPrototypeOf(c.labels) !== null)
        return 'labels are not a null-prototype map of strings';
      return undefined;
    }
    const image = await timed(() => state.runtime.inspectImage(IMAGE));
    if (image.id !== IMAGE) return 'image inspect returned another id';
    if (!image.repoTags.every((t) => typeof t === 'string') || !image.repoDigests.every((t) => typeof t === 'string'))
      return 'repo tags/digests are not strings';
    return Object.values(image.labels).every((v) => typeof v === 'string') ? undefined : 'image labels are not strings';
  },
  show: (input) => JSON.stringify(input),
};
