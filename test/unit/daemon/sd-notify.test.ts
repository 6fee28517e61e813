// sd_notify messages pald sends under systemd (Type=notify), through a recording sender.
import test from 'ava';
import { systemdNotifier, notifySocketProblem } from '../../../src/daemon/index.js';

function recorder(fail = false) {
  const sent: { path: string; message: string }[] = [];
  const logs: string[] = [];
  const send = (path: string, message: string): void => {
    if (fail) throw new Error('ECONNREFUSED');
    sent.push({ path, message });
  };
  return { sent, logs, send, log: (line: string) => logs.push(line) };
}

test('without NOTIFY_SOCKET nothing is sent and nothing is logged', (t) => {
  const r = recorder();
  const n = systemdNotifier({}, r.send, r.log, 42);
  n.ready('serving /run/pal');
  n.reloading();
  n.stopping();
  t.deepEqual(r.sent, []);
  t.deepEqual(r.logs, []);
});

test('READY=1 with status and main pid, RELOADING=1 with a monotonic time, STOPPING=1', (t) => {
  const r = recorder();
  const n = systemdNotifier({ NOTIFY_SOCKET: '/run/systemd/notify' }, r.send, r.log, 42, () => 1234n);
  n.ready('serving /run/pal');
  n.reloading();
  n.stopping();
  t.deepEqual(
    r.sent.map((s) => s.path),
    ['/run/systemd/notify', '/run/systemd/notify', '/run/systemd/notify'],
  );
  t.deepEqual(
    r.sent.map((s) => s.message),
    ['READY=1\nSTATUS=serving /run/pal\nMAINPID=42', 'RELOADING=1\nMONOTONIC_USEC=1234', 'STOPPING=1'],
  );
});

test('a status cannot smuggle another assignment into the datagram', (t) => {
  const r = recorder();
  systemdNotifier({ NOTIFY_SOCKET: '@abstract' }, r.send, r.log, 7).ready('x\nWATCHDOG=trigger');
  t.is(r.sent[0]?.message, 'READY=1\nSTATUS=x WATCHDOG=trigger\nMAINPID=7');
});

test('a failed send is logged, never thrown; a bad socket name disables notifications', (t) => {
  const failing = recorder(true);
  t.notThrows(() => systemdNotifier({ NOTIFY_SOCKET: '/x' }, failing.send, failing.log).ready('up'));
  t.regex(failing.logs[0] ?? '', /sd_notify READY=1: ECONNREFUSED/);

  const bad = recorder();
  systemdNotifier({ NOTIFY_SOCKET: 'relative/path' }, bad.send, bad.log).ready('up');
  t.deepEqual(bad.sent, []);
  t.regex(bad.logs[0] ?? '', /sd_notify disabled/);
  t.truthy(notifySocketProblem('/' + 'a'.repeat(200)));
  t.is(notifySocketProblem('/run/systemd/notify'), undefined);
});
