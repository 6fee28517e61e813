// The ledger with a cache that holds copies: a copy held by the cache and by handles is counted
// once, the cache's budget is what the pins leave, and the copy outlives the cache's eviction.
import test from 'ava';
import { HandleLedger, handleOwner, lockedSize } from '../../../src/fs/handle-ledger.js';
import type { SecureBuffer } from '../../../src/native/types.js';
import { FakeSecureBuffer } from './fakes.js';

const PAGE = 4096;

function fakeCache() {
  const held = new Set<SecureBuffer>();
  return {
    held,
    cachedBytes: () => [...held].reduce((n, b) => n + lockedSize(b.length), 0),
    holds: (b: SecureBuffer) => held.has(b),
  };
}

test('a copy held by the cache and by handles is counted once, and survives the eviction', (t) => {
  const cache = fakeCache();
  const ledger = new HandleLedger(
    () => ({ openHandlesPerContainer: 100, lockedBytes: 10 * PAGE, secretBytes: PAGE }),
    cache,
  );
  const plaintext = new FakeSecureBuffer(Buffer.alloc(3 * PAGE, 'x'));
  cache.held.add(plaintext);
  const contents = [1, 2, 3].map((fh) => ledger.openSecret('container:a', fh, 'x\0v1', plaintext));
  t.is(ledger.lockedBytes(), 3 * PAGE);
  t.is(ledger.cacheBudget(), 10 * PAGE, 'a pinned copy the cache holds takes nothing from its budget');
  // The cache evicts: it lets go of its reference.
  cache.held.delete(plaintext);
  plaintext.wipe();
  t.is(ledger.lockedBytes(), 3 * PAGE, 'still one copy, now pinned only');
  t.is(ledger.cacheBudget(), 7 * PAGE, 'the cache gets what the pins leave');
  for (const c of contents) t.is(c.read(0, 1).toString(), 'x');
  for (const fh of [1, 2, 3]) ledger.release(fh);
  for (const c of contents) c.wipe(); // the addon's release
  t.is(ledger.lockedBytes(), 0);
  t.true((contents[0] as FakeSecureBuffer).memory.bytes.every((b) => b === 0));
});

test('owners: one per container, one for the host, one for every unidentified caller', (t) => {
  t.is(handleOwner({ kind: 'container', containerId: 'abc' }), 'container:abc');
  t.is(handleOwner({ kind: 'host' }), 'host');
  t.is(handleOwner({ kind: 'unknown' }), 'unknown');
  t.is(handleOwner({ kind: 'container' }), 'unknown');
});

test('the largest secret can always be opened: the per-container share is at least secret_bytes', (t) => {
  const ledger = new HandleLedger(() => ({
    openHandlesPerContainer: 100,
    lockedBytes: 4 * PAGE,
    secretBytes: 4 * PAGE,
  }));
  const big = new FakeSecureBuffer(Buffer.alloc(4 * PAGE));
  t.truthy(ledger.openSecret('container:a', 1, 'big\0v', big));
});
