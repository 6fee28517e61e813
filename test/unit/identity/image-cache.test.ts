// The image cache's own contract: bounded by count (least recently used out), one inspect for
// concurrent callers, failures not remembered.

import test from 'ava';
import { ImageCache } from '../../../src/identity/image-cache.js';
import { RuntimeError, type RuntimeImage } from '../../../src/identity/runtime.js';

const imageId = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

/** An inspect that knows every image and counts its calls per id. */
function countingInspect() {
  const calls = new Map<string, number>();
  const inspect = async (id: string): Promise<RuntimeImage> => {
    calls.set(id, (calls.get(id) ?? 0) + 1);
    await Promise.resolve();
    return { id, repoTags: [], repoDigests: [], labels: {} };
  };
  return { inspect, calls: (id: string) => calls.get(id) ?? 0 };
}

test('holds at most maxImages images however many are seen', async (t) => {
  const { inspect } = countingInspect();
  const cache = new ImageCache({ inspect, maxImages: 4 });
  for (let n = 0; n < 100; n++) {
    await cache.get(imageId(n));
    t.true(cache.size <= 4, `holds ${cache.size} after ${n + 1} images`);
  }
  t.is(cache.size, 4);
});

test('the least recently used image goes first; the others are served without an inspect', async (t) => {
  const { inspect, calls } = countingInspect();
  const cache = new ImageCache({ inspect, maxImages: 2 });
  await cache.get(imageId(1));
  await cache.get(imageId(2));
  await cache.get(imageId(1)); // 1 is now more recent than 2
  await cache.get(imageId(3)); // evicts 2
  t.is(calls(imageId(1)), 1);
  t.is(calls(imageId(3)), 1);
  await cache.get(imageId(1));
  await cache.get(imageId(3));
  t.is(calls(imageId(1)), 1, 'kept: used recently');
  t.is(calls(imageId(3)), 1, 'kept: newest');
  await cache.get(imageId(2));
  t.is(calls(imageId(2)), 2, 'evicted, so inspected again');
});

test('concurrent callers share one inspect', async (t) => {
  const { inspect, calls } = countingInspect();
  const cache = new ImageCache({ inspect, maxImages: 8 });
  const [a, b] = await Promise.all([cache.get(imageId(7)), cache.get(imageId(7))]);
  t.is(a, b);
  t.is(calls(imageId(7)), 1);
});

test('a failed inspect is not remembered: the next get asks again', async (t) => {
  let fail = true;
  let calls = 0;
  const cache = new ImageCache({
    maxImages: 8,
    inspect: async (id) => {
      calls++;
      if (fail) throw new RuntimeError('unreachable', 'docker down');
      return { id, repoTags: [], repoDigests: [], labels: {} };
    },
  });
  await t.throwsAsync(cache.get(imageId(1)), { instanceOf: RuntimeError, message: 'docker down' });
  t.is(cache.size, 0);
  fail = false;
  t.like(await cache.get(imageId(1)), { id: imageId(1) });
  t.is(calls, 2);
});

test('delete forgets an image; clear forgets all', async (t) => {
  const { inspect, calls } = countingInspect();
  const cache = new ImageCache({ inspect, maxImages: 8 });
  await cache.get(imageId(1));
  await cache.get(imageId(2));
  cache.delete(imageId(1));
  t.is(cache.size, 1);
  await cache.get(imageId(1));
  t.is(calls(imageId(1)), 2);
  await cache.clear();
  t.is(cache.size, 0);
});
