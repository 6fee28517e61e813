// pald's wiring and lifecycle: config → audit → manifest → keys → cache → identity → trust →
// filesystem → shared mountpoint → FUSE mount → admin socket → metrics → "ready". Stop undoes it in reverse.
// Each step lives in a module of its own; this file only puts them in order.

import { loadConfig, parseListen, type PaldConfig } from '../config/index.js';
import { AuditLog } from '../audit/index.js';
import { ManifestStore } from '../store/index.js';
import { SecretCache } from '../crypto/index.js';
import { createIdentityResolver } from '../identity/index.js';
import { HandleLedger } from '../fs/index.js';
import { SealedFactsRegistry } from '../policy/index.js';
import { loadRedOctober } from './redoctober.js';
import { PalMetrics, startMetricsServer } from './metrics.js';
import { countedBackend, openKeys } from './keys.js';
import { buildFilesystem, logManifestProblems } from './filesystem.js';
import { imageSecretsOfNode } from './image-secrets.js';
import { mountSession } from './session-mount.js';
import { serveAdmin } from './admin-answers.js';
import { reloadDaemon, trustServiceFor } from './reload.js';
import { Closers, StartupError, packageVersion, step } from './startup.js';
import type { DaemonParts, DaemonState, Log, NativeAddon } from './parts.js';
import { startHandover, type StopMode } from './handover.js';
import { claimInstance, refuseIfAnotherPald } from './single-instance.js';

export { StartupError } from './startup.js';

export interface DaemonOptions {
  readonly configPath?: string;
  readonly log?: (line: string) => void;
}

export interface RunningDaemon {
  readonly mountpoint: string;
  reload(): Promise<void>;
  /** "handover" (SIGTERM): leave the mount to the next pald when a keeper holds it; else unmount. */
  stop(how?: StopMode): Promise<void>;
}

export async function startDaemon(opts: DaemonOptions = {}): Promise<RunningDaemon> {
  const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const native = await step('loading the native addon', () => import('../native/index.js'));
  const nativeExtras = native as { setDumpable?: (on: boolean) => void };
  nativeExtras.setDumpable?.(false); // no core dumps or ptrace-by-uid of a process holding plaintext

  const config: PaldConfig = await loadConfig(opts.configPath);
  const version = await packageVersion();
  const closers = new Closers(log);
  // Before anything is opened, and before the handover takes the kept session from pald-holder.
  const instance = await claimInstance(native, config.admin.socket);
  closers.push(() => native.closeFd(instance)); // closed last: the next pald may start once all is shut
  try {
    await refuseIfAnotherPald(config.admin.socket);
    const parts = await buildParts(config, native, version, closers, log);
    const mountpoint = await mountSession(parts, closers);
    await serveAdmin(parts, closers);
    await serveMetrics(parts, closers);
    log(`pald: ready on ${mountpoint}`);

    let stopping: Promise<void> | undefined;
    const state = parts.state;
    return {
      mountpoint,
      reload: () => reloadDaemon(parts, opts.configPath),
      stop(how: StopMode = 'unmount') {
        state.stopMode = how;
        stopping ??= closers.closeAll();
        return stopping;
      },
    };
  } catch (err) {
    await closers.closeAll();
    throw err;
  }
}

/** Everything but the mount and the sockets: audit, manifest, keys, cache, identity, trust, filesystem. */
async function buildParts(
  config: PaldConfig,
  native: NativeAddon,
  version: string,
  closers: Closers,
  log: Log,
): Promise<DaemonParts> {
  const audit = await step(`audit log ${config.audit.path}`, () => AuditLog.open(config.audit.path, { log }));
  closers.push(() => audit.close());

  const store = await step(`manifest ${config.manifest}`, () =>
    ManifestStore.open(config.manifest, { log, watch: true }),
  );
  closers.push(() => store.close());
  logManifestProblems(store.current().problems, log);

  const state: DaemonState = {
    config,
    trust: trustServiceFor(config, log),
    mount: undefined,
    inertLayersAtStart: 0,
    stopMode: 'unmount',
  };
  closers.push(() => state.trust.close()); // the current one: a reload may have replaced it
  if (config.trust.mode === 'none') {
    log(
      'pald: WARNING: trust.mode is "none" (development only): container labels are taken unverified from image and container config',
    );
  }

  const secrets = await openSecrets(config, native, audit, closers, log, state);

  const identity = createIdentityResolver({
    dockerHost: config.docker.host,
    ...(config.cri !== undefined ? { criAddress: config.cri.address } : {}),
    log,
    pidfds: native.pidfds,
  });
  closers.push(() => identity.close());

  const withoutFs = {
    state,
    log,
    native,
    version,
    startedAt: Date.now(),
    audit,
    store,
    ...secrets,
    identity,
    sealedFacts: new SealedFactsRegistry(),
    // Before anything is mounted: what the previous pald left for a restart without a new mount.
    handover: await startHandover({ adminSocket: config.admin.socket, env: process.env, log }),
    imageSecrets: imageSecretsOfNode({ config, store, audit, log, ...secrets }),
  };
  return { ...withoutFs, fs: buildFilesystem(withoutFs) };
}

/** Keys, Red October, the plaintext cache and the handle ledger, with /metrics counting over them. */
async function openSecrets(
  config: PaldConfig,
  native: NativeAddon,
  audit: AuditLog,
  closers: Closers,
  log: Log,
  state: DaemonState,
) {
  const backend = await openKeys(config, native, closers, log);
  // limits.locked_bytes bounds the cache and the copies open handles pin together; the cache
  // gets what the pins leave. Limits are read at start (a restart changes them).
  const limits = config.limits;
  // /metrics reads its gauges at scrape time (closures over the objects made below).
  const metrics = new PalMetrics({
    cache: () => cache.stats(),
    handles: () => handles.stats(),
    auditDropped: () => audit.dropped(),
    adoptions: () => state.mount?.fastPath.stats(),
    settle: () => state.mount?.fastPath.drain(),
  });
  const redOctober = await step('redoctober', () => loadRedOctober(config, native.secureBufferFrom));
  const cache: SecretCache = new SecretCache(
    {
      openpgp: countedBackend(backend, metrics),
      ...(redOctober ? { redoctober: countedBackend(redOctober, metrics) } : {}),
    },
    {
      ttlMs: config.cache.plaintextTtlMs,
      maxBytes: config.cache.plaintextMaxBytes,
      budget: () => handles.cacheBudget(),
      onSizeMismatch: (name, stated, decrypted) => log(sizeMismatchWarning(name, stated, decrypted)),
    },
  );
  const handles = new HandleLedger(() => limits, cache);
  closers.push(() => cache.close());
  return { backend, metrics, redOctober, cache, handles };
}

/** Lengths only, never content: what an operator needs to mend a wrong `size:`. */
function sizeMismatchWarning(name: string, stated: number, decrypted: number): string {
  const cut = stated < decrypted ? `; a sendfile/splice reader (busybox cat) may have got only ${stated} bytes` : '';
  return (
    `pald: warning: secret ${name}: the manifest says size: ${stated} but it decrypts to ${decrypted} bytes ` +
    `(pald serves ${decrypted} from now on${cut}). Re-seal it with pal seal or correct size:`
  );
}

/** /metrics over HTTP when metrics.listen is set (no auth: operations.md says keep it on loopback). */
async function serveMetrics(parts: DaemonParts, closers: Closers): Promise<void> {
  const { listen } = parts.state.config.metrics;
  if (listen === '') return;
  const where = parseListen(listen);
  if (typeof where === 'string') throw new StartupError(`metrics.listen: ${where}`);
  const server = await step(`metrics.listen ${listen}`, () =>
    startMetricsServer(parts.metrics, where.host, where.port, parts.log),
  );
  closers.push(() => server.close());
  parts.log(`pald: metrics on http://${listen}/metrics (no auth: keep it on loopback)`);
}
