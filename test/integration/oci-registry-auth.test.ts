// Registry authentication against a real docker-registry with token auth: the client answers the
// Bearer challenge with credentials from a Docker config.json-format file; the registry verifies
// the token. Without (or with wrong) credentials: denied, never an outage.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRegistryClient, RegistryError } from '../../src/trust/oci/client.js';
import type { RegistryClient } from '../../src/trust/oci/types.js';
import { pushImage, startRegistry, type TestRegistry } from '../../scripts/components/registry.js';
import { startTokenService, type TokenService } from '../helpers/registry-token.js';

let dir: string;
let open: TestRegistry;
let locked: TestRegistry;
let tokens: TokenService;
let digest: string;
const clients: RegistryClient[] = [];

async function authFile(name: string, host: string, user: string, password: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(
    file,
    JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } }),
  );
  return file;
}

function client(auth?: string): RegistryClient {
  const c = createRegistryClient({
    registries: { [locked.host]: { insecure: true, ...(auth ? { auth } : {}) } },
    timeoutMs: 5_000,
    skipFileSafety: true,
  });
  clients.push(c);
  return c;
}

test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pal-regauth-'));
  tokens = await startTokenService(dir, 'pald', 'correct horse');
  open = await startRegistry();
  digest = (await pushImage(open, 'pal/private', 'v1')).manifest.digest;
  locked = await startRegistry({ storageOf: open, tokenAuth: tokens });
});

test.after.always(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await locked?.destroy();
  await open?.destroy();
  await tokens?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test.serial('Bearer challenge → token from the realm with the auth file credentials → manifest', async (t) => {
  const c = client(await authFile('good.json', locked.host, 'pald', 'correct horse'));
  const m = await c.getManifest(`${locked.host}/pal/private`, 'v1');
  t.is(m.digest, digest);
  const before = tokens.requests.length;
  await c.getManifest(`${locked.host}/pal/private`, digest); // the token is reused for the same scope
  t.is(tokens.requests.length, before);
  t.true(tokens.requests.some((r) => r.authorized && r.scope === 'repository:pal/private:pull'));
});

test.serial('no credentials, or wrong ones: denied (not an outage)', async (t) => {
  for (const c of [client(), client(await authFile('bad.json', locked.host, 'pald', 'wrong'))]) {
    const e = await t.throwsAsync(c.getManifest(`${locked.host}/pal/private`, 'v1'));
    t.true(e instanceof RegistryError);
    t.is((e as RegistryError).kind, 'denied', e?.message);
  }
});

test.serial('blobs need the token too: without credentials, denied', async (t) => {
  const c = createRegistryClient({ registries: { [locked.host]: { insecure: true } }, timeoutMs: 5_000 });
  clients.push(c);
  const e = await t.throwsAsync(c.getBlob(`${locked.host}/pal/private`, digest, 1024));
  t.is((e as RegistryError).kind, 'denied');
});
