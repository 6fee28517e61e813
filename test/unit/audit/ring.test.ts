import test from 'ava';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { LineRing } from '../../../src/audit/ring.js';

// A full collection on demand, to see what the ring still holds (the flag only adds `gc` to
// contexts made after it is set).
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** `count` numbered lines as one newline-ended UTF-8 chunk, as the addon hands them over. */
function chunk(first: number, count: number): Buffer {
  return Buffer.from(Array.from({ length: count }, (_, i) => `line ${first + i}\n`).join(''));
}

test('the last lines come back in order across chunks, strings and the compaction of dropped entries', (t) => {
  const ring = new LineRing(10);
  let n = 0;
  for (let i = 0; i < 3000; i++) {
    if (i % 7 === 0) {
      ring.push(`line ${n}`);
      n++;
    } else {
      ring.pushChunk(chunk(n, 3), 3);
      n += 3;
    }
  }
  const expected = Array.from({ length: 10 }, (_, i) => `line ${n - 10 + i}`);
  t.deepEqual(ring.recent(), expected);
  t.deepEqual(ring.recent(4), expected.slice(6));
  t.deepEqual(ring.recent(50), expected, 'never more than the ring keeps');
});

test('a chunk the ring has dropped is no longer held by it (its bytes can be collected)', async (t) => {
  const ring = new LineRing(10);
  // Made in a function so that nothing here refers to the first chunk but the WeakRef.
  const first = ((): WeakRef<Buffer> => {
    const bytes = chunk(0, 5);
    ring.pushChunk(bytes, 5);
    return new WeakRef(bytes);
  })();
  // Far fewer pushes than the 1024 dropped entries at which the array is compacted.
  for (let i = 1; i <= 20; i++) ring.pushChunk(chunk(i * 5, 5), 5);
  t.is(ring.recent().length, 10);
  await new Promise((resolve) => setImmediate(resolve)); // a WeakRef holds its target for the job that made it
  collectGarbage();
  t.is(first.deref(), undefined, 'the dropped chunk is still referenced');
});
