// A separate process that mounts a one-file filesystem, for the lifecycle tests: how the mount
// ends when its process exits, is SIGTERMed, SIGKILLed or dies of an uncaught exception.
// Usage: node native-mounter.js MOUNTPOINT MODE   (MODE: exit | sigterm | throw | hold)
// Prints "ready" once mounted, then acts on a line from stdin ("exit" / "throw").
import { createInterface } from 'node:readline';

import { TestFs } from './native-fixture.js';
import { mount } from '../../src/native/index.js';

const [mountpoint, mode] = process.argv.slice(2);
if (!mountpoint || !mode) {
  process.stderr.write('usage: native-mounter MOUNTPOINT exit|sigterm|throw|hold\n');
  process.exit(2);
}
const fs = new TestFs();
fs.add('hello', `served by ${process.pid}\n`);
const fuse = await mount(mountpoint, fs.handlers, { extraOptions: ['allow_other'] });
if (mode === 'sigterm') {
  process.on('SIGTERM', () => {
    void fuse.unmount().then(() => process.exit(0));
  });
}
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'exit') process.exit(0);
  if (line === 'throw')
    setImmediate(() => {
      throw new Error('mounter dies of an uncaught exception');
    });
});
process.stdout.write('ready\n');
