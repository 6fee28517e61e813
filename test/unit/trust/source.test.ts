// The HTTP metadata source against a local plain-HTTP server we control.
import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { FetchError, httpMetadataSource } from '../../../src/trust/notary/source.js';

let server: http.Server;
let base: string;
const seen: string[] = [];

test.before(async () => {
  server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    const url = req.url ?? '';
    if (url.endsWith('/root.json')) res.writeHead(200).end('{"ok":1}');
    else if (url.endsWith('/big.json')) res.writeHead(200).end(Buffer.alloc(10_000, 97));
    else if (url.endsWith('/broken.json')) res.writeHead(503).end('down');
    else if (url.endsWith('/redirect.json')) res.writeHead(302, { location: '/elsewhere' }).end();
    else res.writeHead(404).end('{"errors":[{"code":"METADATA_NOT_FOUND"}]}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
test.after.always(() => {
  server.closeAllConnections();
  server.close();
});

const source = () => httpMetadataSource({ server: base, timeoutMs: 1000 });

test('fetches /v2/<gun>/_trust/tuf/<role>.json with the GUN as is', async (t) => {
  const s = source();
  t.is((await s.fetchRole('localhost:5000/pal/demo', 'root', 100)).toString(), '{"ok":1}');
  t.true(seen.includes('/v2/localhost:5000/pal/demo/_trust/tuf/root.json'));
  s.close();
});

test('HTTP failures map to not-found, unreachable (5xx) and bad-response', async (t) => {
  const s = source();
  const kind = async (role: string, max = 100) =>
    (await t.throwsAsync<FetchError>(s.fetchRole('a/b', role, max), { instanceOf: FetchError }))?.kind;
  t.is(await kind('targets'), 'not-found');
  t.is(await kind('broken'), 'unreachable');
  t.is(await kind('redirect'), 'bad-response');
  t.is(await kind('big', 5000), 'bad-response');
  s.close();
});

test('names that could leave the path are refused before any request', async (t) => {
  const s = source();
  const before = seen.length;
  for (const [gun, role] of [
    ['../x', 'root'],
    ['a/b', '../../etc/passwd'],
    ['a/b?x=1', 'root'],
    ['a/b#f', 'root'],
    ['', 'root'],
  ] as const) {
    const e = await t.throwsAsync<FetchError>(s.fetchRole(gun, role, 100), { instanceOf: FetchError });
    t.is(e?.kind, 'bad-response');
  }
  t.is(seen.length, before);
  s.close();
});

test('a closed port is unreachable', async (t) => {
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const s = httpMetadataSource({ server: `http://127.0.0.1:${port}`, timeoutMs: 1000 });
  const e = await t.throwsAsync<FetchError>(s.fetchRole('a/b', 'root', 100), { instanceOf: FetchError });
  t.is(e?.kind, 'unreachable');
  t.regex(e.message, /ECONNREFUSED/);
  s.close();
});

test('only http(s) servers are accepted', (t) => {
  t.throws(() => httpMetadataSource({ server: 'file:///etc/passwd', timeoutMs: 10 }));
});
