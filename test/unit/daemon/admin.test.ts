import test from 'ava';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAdminRequest } from '../../../src/daemon/index.js';
import { startAdminServer } from '../../../src/daemon/admin-server.js';
import { adminRequest, AdminRequestError, AdminUnreachableError } from '../../../src/cli/admin-client.js';

test('admin requests are validated, hostile input gets a reason', (t) => {
  t.deepEqual(parseAdminRequest('{"op":"status"}'), { op: 'status' });
  t.deepEqual(parseAdminRequest('{"op":"audit"}'), { op: 'audit', n: 50, follow: false });
  t.deepEqual(parseAdminRequest('{"op":"explain","container":"c","secret":"s"}'), {
    op: 'explain',
    container: 'c',
    secret: 's',
  });
  t.regex((parseAdminRequest('nope') as { error: string }).error, /not valid JSON/);
  t.regex((parseAdminRequest('[1]') as { error: string }).error, /JSON object/);
  t.regex((parseAdminRequest('{"op":"rm -rf"}') as { error: string }).error, /unknown op/);
  t.regex((parseAdminRequest('{"op":"audit","n":-1}') as { error: string }).error, /integer/);
  t.regex((parseAdminRequest('{"op":"audit","follow":"yes"}') as { error: string }).error, /boolean/);
  t.regex((parseAdminRequest('{"op":"explain","container":"c"}') as { error: string }).error, /secret/);
  t.regex((parseAdminRequest('{"op":"explain","container":5,"secret":"s"}') as { error: string }).error, /container/);
});

async function withServer(t: import('ava').ExecutionContext, peerUid: number | undefined) {
  const dir = await mkdtemp(join(tmpdir(), 'pal-admin-'));
  const socketPath = join(dir, 'sub', 'admin.sock');
  const listeners = new Set<(e: unknown) => void>();
  const server = await startAdminServer(
    {
      async handle(request) {
        if (request.op === 'explain') throw new Error(`no container ${request.container}`);
        return { echo: request.op };
      },
      recentAudit: (n) => [{ n }],
      subscribeAudit: (l) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    },
    { socketPath, peerUid: () => peerUid, log: () => {} },
  );
  t.teardown(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { socketPath, dir, listeners };
}

test('admin socket: 0600 in a 0700 dir, answers root, NDJSON round trip, errors carried', async (t) => {
  const { socketPath, dir, listeners } = await withServer(t, 0);
  t.is((await stat(socketPath)).mode & 0o777, 0o600);
  t.is((await stat(join(dir, 'sub'))).mode & 0o777, 0o700);
  t.deepEqual(await adminRequest(socketPath, { op: 'status' }), { echo: 'status' });
  t.deepEqual(await adminRequest(socketPath, { op: 'audit', n: 3 }), [{ n: 3 }]);
  const err = await t.throwsAsync(adminRequest(socketPath, { op: 'explain', container: 'x', secret: 'y' }));
  t.true(err instanceof AdminRequestError);
  t.regex(err.message, /no container x/);

  // follow: the initial answer, then streamed events until the client aborts.
  const abort = new AbortController();
  const seen: unknown[] = [];
  const following = adminRequest(
    socketPath,
    { op: 'audit', n: 1, follow: true },
    {
      signal: abort.signal,
      follow: {
        onResult: (r) => seen.push(r),
        onEvent: (e) => {
          seen.push(e);
          abort.abort();
        },
      },
    },
  );
  const deadline = Date.now() + 5000;
  while (listeners.size === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  for (const l of listeners) l({ op: 'open', decision: 'allow' });
  await following;
  t.deepEqual(seen, [[{ n: 1 }], { op: 'open', decision: 'allow' }]);
});

test('admin socket refuses non-root peers', async (t) => {
  const { socketPath } = await withServer(t, 1000);
  const err = await t.throwsAsync(adminRequest(socketPath, { op: 'status' }));
  t.true(err instanceof AdminRequestError);
  t.regex(err.message, /root only/);
});

test('admin client: no pald → unreachable', async (t) => {
  const err = await t.throwsAsync(adminRequest('/nonexistent/pal/admin.sock', { op: 'status' }));
  t.true(err instanceof AdminUnreachableError);
});
