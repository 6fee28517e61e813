import test from 'ava';
import Docker from 'dockerode';
import { dockerConnection, parseEvent } from '../../../src/identity/docker-runtime.js';

const ID = 'fa2546a38baf39bb5fc4bcdc6ace0ea1062c7f056ca5e4eed7db2084ae66be9c';
const IMAGE = `sha256:${'c'.repeat(64)}`;

test('unix and tcp endpoints map to modem options', (t) => {
  t.like(dockerConnection('unix:///var/run/docker.sock'), { socketPath: '/var/run/docker.sock', host: undefined });
  t.like(dockerConnection('tcp://127.0.0.1:2375'), {
    host: '127.0.0.1',
    port: 2375,
    protocol: 'http',
    socketPath: undefined,
  });
  t.like(dockerConnection('https://docker.internal:2376'), { host: 'docker.internal', port: 2376, protocol: 'https' });
  for (const bad of ['unix://relative.sock', 'ftp://x:1', 'tcp://nohost', 'not a url', '']) {
    t.throws(() => dockerConnection(bad), undefined, bad);
  }
});

test("the configured endpoint wins over DOCKER_HOST in pald's own environment", (t) => {
  const saved = process.env['DOCKER_HOST'];
  process.env['DOCKER_HOST'] = 'tcp://10.9.8.7:2375';
  t.teardown(() => {
    if (saved === undefined) delete process.env['DOCKER_HOST'];
    else process.env['DOCKER_HOST'] = saved;
  });
  const modem = (
    new Docker(dockerConnection('unix:///run/pal-test/docker.sock')) as unknown as {
      modem: { socketPath?: string; host?: string };
    }
  ).modem;
  t.is(modem.socketPath, '/run/pal-test/docker.sock');
  t.is(modem.host, undefined);
});

test('events: the invalidating ones are recognised, everything else ignored', (t) => {
  const ev = (type: string, action: string, id: string): string =>
    JSON.stringify({ Type: type, Action: action, Actor: { ID: id, Attributes: {} }, time: 1 });
  t.deepEqual(parseEvent(ev('container', 'die', ID)), { type: 'container', action: 'die', id: ID });
  t.deepEqual(parseEvent(ev('container', 'destroy', ID)), { type: 'container', action: 'destroy', id: ID });
  t.deepEqual(parseEvent(ev('container', 'rename', ID)), { type: 'container', action: 'rename', id: ID });
  t.deepEqual(parseEvent(ev('image', 'delete', IMAGE)), { type: 'image', action: 'delete', id: IMAGE });
  t.deepEqual(parseEvent(ev('image', 'untag', 'c'.repeat(64))), { type: 'image', action: 'untag', id: IMAGE });
  t.deepEqual(parseEvent(ev('container', 'start', ID)), { type: 'container', action: 'start', id: ID });
  t.is(parseEvent(ev('container', 'create', ID)), undefined);
  t.is(parseEvent(ev('container', 'die', 'short')), undefined);
  t.is(parseEvent(ev('image', 'delete', 'sha256:zz')), undefined);
  t.is(parseEvent(ev('network', 'destroy', ID)), undefined);
  for (const junk of [
    '',
    '{',
    'null',
    '[]',
    '"x"',
    '{"Type":"container","Action":"die"}',
    '{"Type":"container","Action":"die","Actor":{"ID":5}}',
  ]) {
    t.is(parseEvent(junk), undefined, junk);
  }
});
