// The record of image/host name clashes (each reported once) is bounded: a node that runs many
// images each naming a host secret must not grow it without end.

import test from 'ava';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { BoundedOnceSet, type ManifestEntry } from '../../../src/store/index.js';
import { createImageSecretSource } from '../../../src/daemon/image-secrets.js';
import type { Caller } from '../../../src/policy/index.js';

test('BoundedOnceSet says "first" once per key and forgets the oldest beyond its bound', (t) => {
  const once = new BoundedOnceSet(3);
  t.true(once.first('a'));
  t.false(once.first('a'));
  for (const k of ['b', 'c', 'd']) t.true(once.first(k));
  t.is(once.size, 3);
  t.true(once.first('a'), 'the oldest key was forgotten, so it is new again');
  t.is(once.size, 3);
  once.forgetPrefix('a');
  t.is(once.size, 2);
  t.throws(() => new BoundedOnceSet(0), { instanceOf: RangeError });
});

function imageArchive(): Readable {
  const p = pack();
  p.entry({ name: 'pal/', type: 'directory' });
  p.entry({ name: 'pal/secrets.yaml' }, 'secrets:\n  db: { file: db.pgp, labels: [app] }\n');
  p.entry({ name: 'pal/db.pgp' }, 'CIPHER');
  p.finalize();
  return Readable.from(p);
}

const caller = (imageId: string): Caller =>
  ({
    ctx: { pid: 1, uid: 0, gid: 0 },
    identity: { kind: 'container', containerId: `c-${imageId}`, imageId },
  }) as unknown as Caller;

test('the clash record of the image secret source never holds more than its bound', async (t) => {
  const logged: string[] = [];
  const audited: string[] = [];
  const source = createImageSecretSource({
    readArchive: () => Promise.resolve(imageArchive()),
    maxCiphertextBytes: 1024,
    hostEntries: () => new Map([['db', { name: 'db' } as ManifestEntry]]),
    log: (m) => logged.push(m),
    audit: { record: (e) => audited.push(e.reason) },
    maxClashesRemembered: 8,
  });
  const images = Array.from({ length: 50 }, (_, i) => `sha256:${i.toString(16).padStart(64, '0')}`);
  for (const image of images) {
    const served = await source.forCaller(caller(image));
    t.false(served.has('db'), 'the host entry wins');
    t.true(source.clashesRemembered() <= 8);
  }
  t.is(source.clashesRemembered(), 8);
  t.is(logged.filter((m) => m.includes('which the host manifest also names')).length, 50);
  // A clash still remembered is not reported again; one forgotten (the oldest) is, once.
  await source.forCaller(caller(images[49]!));
  t.is(logged.length, 50);
  await source.forCaller(caller(images[0]!));
  t.is(logged.length, 51);
  t.is(audited.length, 51);
  source.forget(images[0]!);
  t.is(source.clashesRemembered(), 7);
});
