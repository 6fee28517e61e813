// The last close of a secret tells the kernel to drop its pages (view-state.ts). Closes the addon
// answered reach JS in batches, often many last closes of one secret at once: those are told once
// per inode when the batch ends, never skipped.
import test from 'ava';
import { OpenHandles } from '../../../src/fs/open-handles.js';

test('a last close is told at once, or once per inode after the current job when coalesced', async (t) => {
  const told: number[] = [];
  const handles = new OpenHandles((ino) => told.push(ino));
  const a = handles.allocate();
  handles.add(a, { ino: 5, name: 's' });
  handles.release(a);
  t.deepEqual(told, [5], 'at once');

  // A batch: open, close, open, close of inode 5, one of inode 6, and one close that is not last.
  told.length = 0;
  for (let i = 0; i < 3; i++) {
    const fh = handles.allocate();
    handles.add(fh, { ino: 5, name: 's' });
    handles.release(fh, true);
  }
  const [b, c] = [handles.allocate(), handles.allocate()];
  handles.add(b, { ino: 6, name: 't' });
  handles.add(c, { ino: 6, name: 't' });
  handles.release(b, true);
  t.deepEqual(told, [], 'nothing before the job ends');
  await Promise.resolve();
  t.deepEqual(told, [5], 'once for inode 5; inode 6 still has a handle open');
  handles.release(c, true);
  await Promise.resolve();
  t.deepEqual(told, [5, 6]);
  t.is(handles.size, 0);
});

test('a secret reopened after a coalesced last close in the same job stays counted', async (t) => {
  const told: number[] = [];
  const handles = new OpenHandles((ino) => told.push(ino));
  const a = handles.allocate();
  handles.add(a, { ino: 5, name: 's' });
  handles.release(a, true); // a last close, told when the job ends
  const b = handles.allocate();
  handles.add(b, { ino: 5, name: 's' }); // open again before it ends
  await Promise.resolve();
  t.deepEqual(told, [5], 'the last close is still told');
  t.is(handles.size, 1);
  handles.release(b);
  t.deepEqual(told, [5, 5], "the reopened handle's close is a last close again, told at once");
  // And after a coalesced last close nobody reopened, the next open and close count from zero.
  const c = handles.allocate();
  handles.add(c, { ino: 5, name: 's' });
  handles.release(c, true);
  await Promise.resolve();
  const d = handles.allocate();
  handles.add(d, { ino: 5, name: 's' });
  handles.release(d);
  t.deepEqual(told, [5, 5, 5, 5]);
});
