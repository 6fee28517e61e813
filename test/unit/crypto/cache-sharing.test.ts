// The plaintext cache with shared copies: evicting lets go of the cache's reference only (open
// handles keep reading the copy), and the cache stays within the budget pald gives it.
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SecretCache } from '../../../src/crypto/index.js';
import type { ManifestEntry } from '../../../src/store/index.js';
import { FakeSecureMemory } from '../../helpers/fake-secure.js';
import { plainBackend } from '../../helpers/plain-backend.js';

const tick = () => new Promise((r) => setImmediate(r));

async function entries(
  t: { teardown(fn: () => Promise<void>): void },
  values: Record<string, Buffer>,
): Promise<Record<string, ManifestEntry>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pal-cache-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const out: Record<string, ManifestEntry> = {};
  for (const [name, value] of Object.entries(values)) {
    const ciphertextPath = path.join(dir, `${name}.pgp`);
    await writeFile(ciphertextPath, value);
    out[name] = {
      name,
      labels: ['l'],
      mode: 0o400,
      backend: 'openpgp',
      ciphertextPath,
      version: `v-${name}`,
      mtimeMs: 0,
    };
  }
  return out;
}

test('evicting a secret that open handles share does not wipe what they read', async (t) => {
  const mem = new FakeSecureMemory();
  const cache = new SecretCache(
    { openpgp: plainBackend(mem) },
    { ttlMs: 60_000, maxBytes: 1 << 20, sweepIntervalMs: 0 },
  );
  t.teardown(() => cache.close());
  const { s } = await entries(t, { s: Buffer.from('still being read') });
  const opened = await cache.get(s!);
  t.true(cache.holds(opened.plaintext));
  const handle = opened.plaintext.share(); // what an open handle gets
  cache.invalidate('s');
  await tick();
  t.false(cache.holds(opened.plaintext));
  t.false(opened.plaintext.alive, 'the cache let go');
  t.true(handle.alive);
  t.is(handle.read().toString(), 'still being read');
  t.is(mem.live(), 1, 'one copy, kept by the handle');
  handle.wipe();
  t.is(mem.live(), 0);
  t.true(
    mem.allocated[0]!.memory.every((b) => b === 0),
    'zeroed when the handle let go',
  );
});

test('the cache holds no more than its budget: least recently used go first, a secret beyond it is served uncached', async (t) => {
  const mem = new FakeSecureMemory();
  let budget = 3 * 4096;
  const cache = new SecretCache(
    { openpgp: plainBackend(mem) },
    { ttlMs: 60_000, maxBytes: 1 << 20, sweepIntervalMs: 0, budget: () => budget },
  );
  t.teardown(() => cache.close());
  const e = await entries(t, {
    a: Buffer.alloc(10, 'a'),
    b: Buffer.alloc(10, 'b'),
    c: Buffer.alloc(10, 'c'),
    d: Buffer.alloc(10, 'd'),
  });
  for (const n of ['a', 'b', 'c', 'd']) await cache.get(e[n]!);
  await tick();
  t.is(cache.stats().entries, 3, 'one page each, three pages of budget');
  t.is(cache.cachedBytes(), 3 * 4096);
  t.is(mem.live(), 3, 'the evicted one was let go');
  budget = 0; // pinned copies took everything
  const d = await cache.get({ ...e.d!, version: 'v-d2' });
  t.false(cache.holds(d.plaintext), 'served, not cached');
  await tick();
  t.false(d.plaintext.alive);
});

test('peek and cachedForMs answer only for the version cached and until it expires, and never decrypt', async (t) => {
  const mem = new FakeSecureMemory();
  let now = 1_000;
  const cache = new SecretCache(
    { openpgp: plainBackend(mem) },
    { ttlMs: 60_000, maxBytes: 1 << 20, sweepIntervalMs: 0, now: () => now },
  );
  t.teardown(() => cache.close());
  const value = Buffer.from('sponsored');
  // The manifest's version of it: the sha256 of its ciphertext (what the cache keys a decrypt by).
  const s = { ...(await entries(t, { s: value })).s!, version: createHash('sha256').update(value).digest('hex') };
  t.is(cache.peek(s), undefined);
  t.is(cache.cachedForMs(s), undefined, 'not decrypted: nothing to lease');
  await cache.get(s);
  now += 15_000;
  t.truthy(cache.peek(s));
  t.is(cache.cachedForMs(s), 45_000, 'what is left of its ttl');
  t.is(cache.cachedForMs({ ...s, version: 'v-rotated' }), undefined, 'another version is not cached');
  now += 45_000;
  t.is(cache.peek(s), undefined);
  t.is(cache.cachedForMs(s), undefined, 'expired');
  t.like(cache.stats(), { decrypts: 1, hits: 0 }, 'only get() decrypted; neither counts a hit');
});
