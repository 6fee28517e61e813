// A container's init named as a caller (started-init.ts), against this process's own /proc.
import test from 'ava';
import type { ContainerRecord } from '../../../src/identity/container-records.js';
import { readStat } from '../../../src/identity/procfs.js';
import { startedInit } from '../../../src/identity/started-init.js';

function recordOf(initPid: number, initStartTime: string): ContainerRecord {
  return { id: 'c'.repeat(64), initPid, initStartTime } as ContainerRecord;
}

test('the init with the ids the kernel gives its requests (its filesystem uid and gid)', (t) => {
  const own = readStat('/proc', process.pid).startTime;
  t.deepEqual(startedInit('/proc', recordOf(process.pid, own)), {
    containerId: 'c'.repeat(64),
    pid: process.pid,
    uid: process.geteuid!(),
    gid: process.getegid!(),
  });
});

test('another start time (the init gone, its pid reused) or no such process: no caller', (t) => {
  const own = readStat('/proc', process.pid).startTime;
  t.is(startedInit('/proc', recordOf(process.pid, `${own}1`)), undefined);
  t.is(startedInit('/proc', recordOf(2 ** 22 + 1, own)), undefined);
});
