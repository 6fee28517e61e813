// Notary unreachable: what was verified keeps its labels until the signed data expires; anything
// new fails closed. Own notary-server (with a notary-signer: ecdsa server keys, as in production),
// because this file stops it.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { createTrustService, type ImageSubject, type TrustService } from '../../src/trust/index.js';
import type { TrustConfig } from '../../src/config/types.js';
import {
  httpsGet,
  NotaryCli,
  removeDir,
  serverMetadata,
  startNotaryServer,
  type NotaryServer,
} from '../../scripts/components/notary.js';

let server: NotaryServer;
let cli: NotaryCli;
const services: TrustService[] = [];
const GUN = 'localhost:5000/pal/outage';
const hexA = randomBytes(32).toString('hex');
const hexB = randomBytes(32).toString('hex');

test.before(async () => {
  server = await startNotaryServer({ signer: true });
  cli = await NotaryCli.create(server);
  await cli.init(GUN);
  await cli.addHash(GUN, 'a', hexA, { custom: { pal: { labels: ['demo'] } } });
  await cli.addHash(GUN, 'b', hexB, { custom: { pal: { labels: ['demo'] } } });
});

test.after.always(async () => {
  await Promise.all(services.map((s) => s.close()));
  if (server) {
    await server.stop();
    await removeDir(server.dir);
  }
});

const image = (hex: string): ImageSubject => ({
  imageId: `sha256:${hex}`,
  repoTags: [`${GUN}:latest`],
  repoDigests: [],
  imageLabels: {},
});

// Generous by default: on a loaded 2-core CI machine a TLS handshake can take seconds, and a
// slow answer must not pass for an outage. The silent-server test passes its own short limit.
function config(url: string, rootKeys: string[], timeoutMs = 20_000): TrustConfig {
  return {
    mode: 'notary',
    notary: {
      server: url,
      ca: server.pki.caPath,
      timeoutMs,
      collections: [{ gun: GUN, rootKeys, rootThreshold: 1, grants: ['demo'], delegations: new Map() }],
    },
  };
}

test.serial('server-held ecdsa keys (notary-signer) verify', async (t) => {
  const ts = JSON.parse((await serverMetadata(server, GUN, 'timestamp')).toString());
  t.is(ts.signatures[0].method, 'ecdsa');
  const s = createTrustService(config(server.url, [await cli.rootKeyId()]), { log: () => {} });
  services.push(s);
  const d = await s.verifiedLabels(image(hexA));
  t.is(d.state, 'verified', d.reason);
  t.deepEqual(d.labels, ['demo']);
});

test.serial('notary stopped: verified images keep their labels until expiry, new ones fail closed', async (t) => {
  let clock = Date.now();
  const log: string[] = [];
  const s = createTrustService(config(server.url, [await cli.rootKeyId()]), {
    now: () => clock,
    log: (m) => log.push(m),
  });
  services.push(s);
  const first = await s.verifiedLabels(image(hexA));
  t.is(first.state, 'verified', first.reason);
  t.true(first.expiresAt! <= clock + 30_000);
  const timestampExpiry = Date.parse(
    JSON.parse((await serverMetadata(server, GUN, 'timestamp')).toString()).signed.expires,
  );

  await server.stop();
  await t.throwsAsync(httpsGet(`${server.url}/_notary_server/health`, server.pki.ca));
  t.true(s.status().healthy);

  clock += 31_000; // past the refresh interval: the service must ask Notary again and cannot
  const kept = await s.verifiedLabels(image(hexA));
  t.is(kept.state, 'verified');
  t.deepEqual(kept.labels, ['demo']);
  t.regex(kept.reason, /kept from the last verification until .* because .*unreachable/);
  t.false(s.status().healthy);
  t.regex(s.status().reason ?? '', /unreachable/);
  t.true(log.some((l) => l.includes('keeping the last verified labels')));

  const fresh = await s.verifiedLabels(image(hexB)); // signed, but never verified by this pald
  t.is(fresh.state, 'error');
  t.deepEqual(fresh.labels, []);
  t.regex(fresh.reason, /notary server https:\/\/127\.0\.0\.1:\d+ unreachable: ECONNREFUSED/);

  clock = timestampExpiry + 1; // the timestamp (14 days) was the first metadata to expire
  const expired = await s.verifiedLabels(image(hexA));
  t.is(expired.state, 'error');
  t.deepEqual(expired.labels, []);
});

test('a server that accepts but never answers times out and fails closed', async (t) => {
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((sock) => sockets.add(sock));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    sockets.forEach((s) => s.destroy());
    silent.close();
  });
  const { port } = silent.address() as net.AddressInfo;
  const s = createTrustService(config(`https://127.0.0.1:${port}`, ['0'.repeat(64)], 500), { log: () => {} });
  services.push(s);
  const started = Date.now();
  const d = await s.verifiedLabels(image(hexA));
  t.is(d.state, 'error');
  t.regex(d.reason, /no answer within 500 ms/);
  // The limit is what ends the wait (not some other failure): it took at least that long.
  t.true(Date.now() - started >= 450);
});
