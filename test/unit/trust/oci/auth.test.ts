// Registry auth pieces: the WWW-Authenticate challenge, Docker config.json credentials, token answers,
// and File safety of the registry's CA/credentials files.
import test from 'ava';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { credentialsFromFile, parseChallenge, parseTokenResponse } from '../../../../src/trust/oci/auth.js';
import { createRegistryClient, isLoopbackHost, splitRepository } from '../../../../src/trust/oci/client.js';
import { FileSafetyError } from '../../../../src/store/file-safety.js';

let dir: string;
test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pal-ociauth-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('Bearer and Basic challenges are parsed; anything else is not a challenge', (t) => {
  t.deepEqual(
    parseChallenge(
      'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull"',
    ),
    {
      scheme: 'bearer',
      params: {
        realm: 'https://auth.example.com/token',
        service: 'registry.example.com',
        scope: 'repository:a/b:pull',
      },
    },
  );
  t.deepEqual(parseChallenge('Basic realm="Registry Realm"'), { scheme: 'basic', params: { realm: 'Registry Realm' } });
  t.is(parseChallenge('Negotiate abc'), undefined);
  t.is(parseChallenge(null), undefined);
  t.is(parseChallenge(`Bearer realm="${'x'.repeat(5000)}"`), undefined);
});

test('credentials from a Docker config.json: auth or username/password, by host', async (t) => {
  const file = path.join(dir, 'config.json');
  await writeFile(
    file,
    JSON.stringify({
      auths: {
        'registry.example.com': { auth: Buffer.from('alice:s3cret:with:colons').toString('base64') },
        'https://other.example.com': { username: 'bob', password: 'pw' },
        'https://index.docker.io/v1/': { auth: Buffer.from('hub:pw').toString('base64') },
      },
    }),
  );
  t.deepEqual(credentialsFromFile(file, 'registry.example.com'), { username: 'alice', password: 's3cret:with:colons' });
  t.deepEqual(credentialsFromFile(file, 'other.example.com'), { username: 'bob', password: 'pw' });
  t.deepEqual(credentialsFromFile(file, 'docker.io'), { username: 'hub', password: 'pw' });
  t.is(credentialsFromFile(file, 'unknown.example.com'), undefined);
  await writeFile(file, 'not json');
  t.throws(() => credentialsFromFile(file, 'registry.example.com'), { message: /not JSON/ });
});

test('token answers: token or access_token, bounded lifetime; junk refused', (t) => {
  t.deepEqual(parseTokenResponse(Buffer.from('{"token":"abc","expires_in":300}')), { token: 'abc', expiresInS: 300 });
  t.deepEqual(parseTokenResponse(Buffer.from('{"access_token":"xyz"}')), { token: 'xyz', expiresInS: 60 });
  t.is(parseTokenResponse(Buffer.from('{"token":"a","expires_in":1e9}')).expiresInS, 3600);
  t.throws(() => parseTokenResponse(Buffer.from('{"token":"a b\\r\\nX-Evil: 1"}')));
  t.throws(() => parseTokenResponse(Buffer.from('<html>')));
  t.throws(() => parseTokenResponse(Buffer.from('{"token":""}')));
});

test('repository names must carry a registry host; loopback detection', (t) => {
  t.deepEqual(splitRepository('127.0.0.1:5000/pal/app'), { host: '127.0.0.1:5000', path: 'pal/app' });
  t.deepEqual(splitRepository('docker.io/library/busybox'), { host: 'docker.io', path: 'library/busybox' });
  for (const bad of ['busybox', '/pal/app', 'host/../x', 'host/Pal', 'host/a//b', 'ho st/a']) {
    t.throws(() => splitRepository(bad), undefined, bad);
  }
  t.true(isLoopbackHost('127.0.0.1:5000'));
  t.true(isLoopbackHost('localhost'));
  t.true(isLoopbackHost('[::1]:5000'));
  t.false(isLoopbackHost('127.0.0.1.example.com'));
  t.false(isLoopbackHost('registry.example.com'));
});

test('a registry CA or auth file writable by others is fatal when the client is made (File safety)', async (t) => {
  const ca = path.join(dir, 'ca.pem');
  await writeFile(ca, 'not even a pem');
  await chmod(ca, 0o666);
  const e = t.throws(() => createRegistryClient({ registries: { 'registry.example.com': { ca } } }));
  t.true(e instanceof FileSafetyError, String(e));
  await chmod(ca, 0o644);
  const c = createRegistryClient({ registries: { 'registry.example.com': { ca } } });
  t.teardown(() => c.close());
  // A safe but unusable file is reported for that registry, not fatal.
  t.regex(c.configProblems.get('registry.example.com') ?? '', /no PEM certificate/);
});
