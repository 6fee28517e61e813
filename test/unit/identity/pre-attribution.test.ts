// The pre-attribution queue against a fake of the records it fills: a burst of start hints runs a
// few inspects at a time, drops hints past its bound, and skips containers already attributed.

import test from 'ava';
import type { ContainerRecord, Loaded } from '../../../src/identity/container-records.js';
import { PreAttribution } from '../../../src/identity/pre-attribution.js';

function fakeRecords() {
  const records = new Map<string, ContainerRecord>();
  const pending = new Map<string, (loaded: Loaded) => void>();
  let most = 0;
  const loads: string[] = [];
  return {
    records,
    loads,
    pending,
    most: () => most,
    get: (id: string) => records.get(id),
    load(id: string): Promise<Loaded> {
      loads.push(id);
      most = Math.max(most, pending.size + 1);
      return new Promise<Loaded>((resolve) => pending.set(id, resolve)).finally(() => pending.delete(id));
    },
    answer(id: string): void {
      const record = { id } as ContainerRecord;
      records.set(id, record);
      pending.get(id)?.({ record });
    },
  };
}

test('a burst of start hints: a few inspects at a time, bounded queue, attributed ones skipped', async (t) => {
  const fake = fakeRecords();
  const dropped: string[] = [];
  const pre = new PreAttribution({
    records: fake,
    concurrency: 2,
    maxQueued: 3,
    current: () => true,
    drop: (id) => dropped.push(id),
  });
  fake.records.set('known', { id: 'known' } as ContainerRecord);
  pre.started('known');
  for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'a']) pre.started(id);
  t.deepEqual(fake.loads, ['a', 'b'], 'two in flight; the known one is not inspected again');
  // Queued while a and b are in flight: c, d, e (bound 3); f is dropped.
  for (const id of ['a', 'b', 'c', 'd', 'e']) {
    // Let the finished load's continuation start the next one.
    await waitUntil(() => fake.pending.has(id));
    fake.answer(id);
  }
  await pre.idle();
  t.deepEqual(fake.loads, ['a', 'b', 'c', 'd', 'e']);
  t.is(fake.most(), 2);
  t.deepEqual(dropped, []);
  await pre.close();
  pre.started('g');
  t.deepEqual(fake.loads, ['a', 'b', 'c', 'd', 'e'], 'closed: hints are ignored');
});

test('a record whose init is not current is dropped and loaded again', async (t) => {
  const fake = fakeRecords();
  const dropped: string[] = [];
  const pre = new PreAttribution({
    records: fake,
    current: () => false,
    drop: (id) => {
      dropped.push(id);
      fake.records.delete(id);
    },
  });
  fake.records.set('x', { id: 'x' } as ContainerRecord);
  pre.started('x');
  t.deepEqual(dropped, ['x']);
  t.deepEqual(fake.loads, ['x']);
  fake.answer('x');
  await pre.idle();
});

test('each record it loaded and the cache kept is told as attributed; one a die raced, a failure or a close is not', async (t) => {
  const fake = fakeRecords();
  const attributed: string[] = [];
  const pre = new PreAttribution({
    records: fake,
    current: () => true,
    drop: () => undefined,
    attributed: (record) => attributed.push(record.id),
  });
  for (const id of ['kept', 'raced', 'failed']) pre.started(id);
  fake.answer('kept');
  // Inspected, but a die event dropped it meanwhile: the records did not keep this answer.
  fake.pending.get('raced')?.({ record: { id: 'raced' } as ContainerRecord });
  fake.pending.get('failed')?.({ reason: 'no such container' });
  await pre.idle();
  t.deepEqual(attributed, ['kept']);
  pre.started('late');
  const closed = pre.close(); // settles once the load in flight has
  fake.answer('late');
  await closed;
  t.deepEqual(attributed, ['kept'], 'closed: nothing more is told');
});

async function waitUntil(probe: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !probe(); i++) await Promise.resolve();
  if (!probe()) throw new Error('never happened');
}
