// A manifest `size:` that is not the decrypted length is reported once per ciphertext version
// (lengths only), so an operator learns of an entry that cuts sendfile readers short.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SecretCache } from '../../../src/crypto/index.js';
import type { ManifestEntry } from '../../../src/store/index.js';
import { FakeSecureMemory } from '../../helpers/fake-secure.js';
import { plainBackend } from '../../helpers/plain-backend.js';

async function entry(
  t: { teardown(fn: () => Promise<void>): void },
  value: string,
  extra: Partial<ManifestEntry>,
): Promise<ManifestEntry> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pal-cache-size-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ciphertextPath = path.join(dir, 's.pgp');
  await writeFile(ciphertextPath, value);
  return {
    name: 's',
    labels: ['l'],
    mode: 0o400,
    backend: 'openpgp',
    ciphertextPath,
    version: 'v1',
    mtimeMs: 0,
    ...extra,
  };
}

function cacheReporting(ttlMs: number) {
  const reports: [string, number, number][] = [];
  const mem = new FakeSecureMemory();
  const cache = new SecretCache(
    { openpgp: plainBackend(mem) },
    { ttlMs, maxBytes: 1 << 20, sweepIntervalMs: 0, onSizeMismatch: (...r) => reports.push(r) },
  );
  return { cache, reports };
}

test('a size: below the decrypted length is reported with both lengths, once per version', async (t) => {
  const { cache, reports } = cacheReporting(0); // uncached: every open decrypts again
  t.teardown(() => cache.close());
  const e = await entry(t, 'twelve bytes', { size: 5 });
  await cache.get(e);
  await cache.get(e);
  t.deepEqual(reports, [['s', 5, 12]]);
  await writeFile(e.ciphertextPath, 'a new ciphertext'); // a new version: its sha256 differs
  await cache.get(e);
  t.deepEqual(
    reports,
    [
      ['s', 5, 12],
      ['s', 5, 16],
    ],
    'a new ciphertext version is reported again',
  );
});

test('a size: above the decrypted length is reported too', async (t) => {
  const { cache, reports } = cacheReporting(60_000);
  t.teardown(() => cache.close());
  await cache.get(await entry(t, 'short', { size: 4096 }));
  t.deepEqual(reports, [['s', 4096, 5]]);
});

test('a right size: and an entry without size: are not reported', async (t) => {
  const { cache, reports } = cacheReporting(0);
  t.teardown(() => cache.close());
  await cache.get(await entry(t, 'exact', { size: 5 }));
  await cache.get(await entry(t, 'no size stated', {}));
  t.deepEqual(reports, []);
});
