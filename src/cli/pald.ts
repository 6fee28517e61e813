#!/usr/bin/env node
// pald [--config /etc/pal/pald.yaml] [--check-config]
// Runs in the foreground (always: systemd or Docker supervise it); prints "pald: ready on <mountpoint>" when the mount is usable.

// First, before any other module is even loaded: no debugger on SIGUSR1, no --inspect.
import './pald-early.js';
import { parseArgs } from 'node:util';
import type { RunningDaemon, SystemdNotifier } from '../daemon/index.js';
import { installProcessGuard } from './process-guard.js';
import { errorMessage } from '../shared/error-message.js';

const USAGE = 'usage: pald [--config /etc/pal/pald.yaml] [--check-config]';

function log(line: string): void {
  process.stderr.write(line + '\n');
}

async function main(): Promise<number> {
  let values: { config?: string; foreground?: boolean; help?: boolean; 'check-config'?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        config: { type: 'string', short: 'c' },
        // Accepted and ignored, so that unit files written for older versions keep starting: pald
        // never daemonises, it always runs in the foreground.
        foreground: { type: 'boolean', short: 'f' },
        help: { type: 'boolean', short: 'h' },
        'check-config': { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    log(`pald: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (values['check-config']) {
    const { runCheckConfig } = await import('../daemon/check-config.js');
    return runCheckConfig(values.config, process.stdout, process.stderr);
  }

  let daemon: RunningDaemon | undefined;
  let systemd: SystemdNotifier | undefined;
  installProcessGuard({ log, stop: async () => daemon?.stop() });
  try {
    // Loaded only now, so that the guards above are in place before the bulk of pald is read.
    const { startDaemon, systemdNotifier } = await import('../daemon/index.js');
    const { sendUnixDatagram } = await import('../native/index.js');
    systemd = systemdNotifier(process.env, sendUnixDatagram, log);
    daemon = await startDaemon({ ...(values.config ? { configPath: values.config } : {}), log });
  } catch (err) {
    log(`pald: cannot start: ${errorMessage(err)}`);
    return 1;
  }
  // systemd (Type=notify) counts pald as started only now, when the mount is usable.
  systemd.ready(`serving ${daemon.mountpoint}`);

  const running = daemon;
  const notifier = systemd;
  return new Promise<number>((resolve) => {
    let stopping = false;
    // SIGTERM (systemctl restart/stop, docker stop): hand the mount to the next pald when a holder
    // or systemd keeps it; SIGINT: unmount for good (docs/operations.md "Restarts").
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log(`pald: ${signal}: ${signal === 'SIGTERM' ? 'stopping' : 'unmounting and exiting'}`);
      notifier.stopping();
      running.stop(signal === 'SIGTERM' ? 'handover' : 'unmount').then(
        () => resolve(0),
        (err: unknown) => {
          log(`pald: stop: ${errorMessage(err)}`);
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      log('pald: SIGHUP: reloading config, manifest and keys');
      notifier.reloading();
      running
        .reload()
        .catch((err: unknown) => log(`pald: reload failed: ${String(err)}`))
        .finally(() => notifier.ready(`serving ${running.mountpoint} (reloaded)`));
    });
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`pald: ${errorMessage(err)}`);
    process.exit(1);
  },
);
