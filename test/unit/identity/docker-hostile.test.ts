// A hostile Docker endpoint (issue 21 item 6): error answers whose JSON is crafted to make
// docker-modem throw inside its HTTP callback. Each request must settle with an error, nothing
// may escape as an uncaught exception (ava fails the file on one), and the runtime keeps working.
import test from 'ava';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createDockerRuntime } from '../../../src/identity/docker-runtime.js';
import { RuntimeError } from '../../../src/identity/runtime.js';

const CONTAINER = 'c'.repeat(64);
const IMAGE = `sha256:${'d'.repeat(64)}`;

interface FakeDocker {
  readonly host: string;
  /** The answer to the next requests; a function of the request. */
  answer: (req: IncomingMessage, res: ServerResponse) => void;
  close(): Promise<void>;
}

async function fakeDocker(t: { teardown(fn: () => Promise<void>): void }): Promise<FakeDocker> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pal-fake-docker-'));
  const sock = path.join(dir, 'docker.sock');
  const fake: FakeDocker = {
    host: `unix://${sock}`,
    answer: (_req, res) => res.writeHead(500).end(),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    },
  };
  const server = createServer((req, res) => fake.answer(req, res));
  await new Promise<void>((r) => server.listen(sock, () => r()));
  t.teardown(() => fake.close());
  return fake;
}

const json =
  (status: number, body: string) =>
  (_req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  };

const goodInspect = json(
  200,
  JSON.stringify({
    Id: CONTAINER,
    Image: IMAGE,
    Name: '/web',
    State: { Running: true, Pid: 42 },
    Config: { Image: 'web:1', Labels: {} },
  }),
);

const hostileBodies = [
  '{"message":{"toString":1}}',
  '{"message":{"toString":1,"valueOf":1}}',
  '{"message":"","error":{"toString":1}}',
  '{"toString":1}',
  '{"message":["a",{"toString":1}]}',
];

for (const status of [500, 404, 409]) {
  for (const body of hostileBodies) {
    test(`21.6: inspect answered ${status} ${body} settles with an error; the next inspect works`, async (t) => {
      const docker = await fakeDocker(t);
      const runtime = createDockerRuntime({ dockerHost: docker.host, requestTimeoutMs: 10_000 });
      docker.answer = json(status, body);
      const err = await t.throwsAsync(runtime.inspectContainer(CONTAINER), { instanceOf: RuntimeError });
      t.is(err.kind, status === 404 ? 'not-found' : 'error');
      t.regex(
        err.message,
        status === 404 ? /not found in docker/ : new RegExp(`answered ${status} for container c{12}`),
      );
      t.false(err.message.includes('[object'), err.message);
      docker.answer = goodInspect;
      t.like(await runtime.inspectContainer(CONTAINER), { id: CONTAINER, imageId: IMAGE, pid: 42 });
    });
  }
}

test('21.6: a string message is still reported, bounded', async (t) => {
  const docker = await fakeDocker(t);
  const runtime = createDockerRuntime({ dockerHost: docker.host });
  docker.answer = json(500, JSON.stringify({ message: 'daemon is sad ' + 'x'.repeat(10_000) }));
  const err = await t.throwsAsync(runtime.inspectImage(IMAGE), { instanceOf: RuntimeError });
  t.regex(err.message, /answered 500 for image sha256:d+: daemon is sad x+$/);
  t.true(err.message.length < 1200, `${err.message.length} characters`);
});

test('21.6: the event stream answered with a hostile error body reports a disconnect, not a crash', async (t) => {
  const docker = await fakeDocker(t);
  docker.answer = json(500, '{"message":{"toString":1}}');
  const runtime = createDockerRuntime({ dockerHost: docker.host });
  const reason = await new Promise<string>((resolve) => {
    const stop = runtime.watch({
      onConnected: () => {},
      onEvent: () => {},
      onDisconnected: (why) => {
        stop();
        resolve(why);
      },
    });
  });
  t.regex(reason, /answered 500 for events/);
  docker.answer = goodInspect;
  t.like(await runtime.inspectContainer(CONTAINER), { id: CONTAINER });
});
