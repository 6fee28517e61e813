// pald's wiring and lifecycle: config → audit → manifest → keys → cache → identity → trust →
// shared mountpoint → FUSE mount → admin socket → "ready". Stop undoes it in reverse.

import { mkdir, readFile, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Socket } from 'node:net';
import { watch as watchFiles, type FSWatcher } from 'chokidar';
import { loadConfig, type PaldConfig } from '../config/index.js';
import { AuditLog } from '../audit/index.js';
import { ManifestStore, fileSafetyProblem, type ManifestEntry } from '../store/index.js';
import { OpenPgpBackend, SecretCache } from '../crypto/index.js';
import { loadRedOctober } from './redoctober.js';
import { createDockerArchiveReader, createIdentityResolver } from '../identity/index.js';
import { createImageSecretSource } from './image-secrets.js';
import { createTrustService } from '../trust/index.js';
import type { IdentityResolver } from '../identity/types.js';
import type { TrustService } from '../trust/types.js';
import type { FuseMount } from '../native/types.js';
import { createPalFilesystem, modeString, type ManifestView } from '../fs/index.js';
import { HandleLedger } from '../fs/index.js';
import { prepareMountpoint, prepareStagingDir, stackOnto } from './mountinfo.js';
import { startAdminServer, type AdminServer } from './admin-server.js';
import { explain } from './explain.js';
import { imageSubject, SealedFactsRegistry } from '../policy/index.js';
import { parseListen } from '../config/index.js';
import { PalMetrics, startMetricsServer } from './metrics.js';
import { startHandover, type StopMode } from './handover.js';
import type { Backend } from '../crypto/types.js';
import { errorMessage } from '../shared/error-message.js';

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

/** A startup failure with a one-line reason for the operator. */
export class StartupError extends Error {
  override name = 'StartupError';
}

/** JSON.stringify replacer: a Map (trust.notary.collections[].delegations) compares by its entries, not as {}. */
const mapsAsArrays = (_key: string, value: unknown): unknown => (value instanceof Map ? [...value] : value);

async function packageVersion(): Promise<string> {
  try {
    const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

function problemsOf(snap: ManifestView): { file: string; line?: number; entry?: string; message: string }[] {
  return snap.problems.map((p) => ({ ...p }));
}

function step<T>(what: string, work: () => Promise<T>): Promise<T> {
  return work().catch((err: unknown) => {
    throw new StartupError(`${what}: ${errorMessage(err)}`);
  });
}

/** File safety (SPEC) for the trust state files: rollback memory an attacker could rewrite is none. */
const checkStateFile = (file: string): Promise<string | undefined> => fileSafetyProblem(file, { kind: 'state' });

/** The backend, with its decrypts and failures counted for /metrics (a denial is not a failure). */
function countedBackend(backend: Backend, metrics: PalMetrics): Backend {
  return {
    name: backend.name,
    ...(backend.sealedBeforeDecrypt
      ? { sealedBeforeDecrypt: (e: ManifestEntry, c: Uint8Array) => backend.sealedBeforeDecrypt!(e, c) }
      : {}),
    async decrypt(entry, ciphertext) {
      metrics.decrypted(backend.name);
      try {
        return await backend.decrypt(entry, ciphertext);
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code !== 'denied-by-backend' && code !== 'name-mismatch') metrics.error('backend');
        throw err;
      }
    },
  };
}

export async function startDaemon(opts: DaemonOptions = {}): Promise<RunningDaemon> {
  const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const native = await step('loading the native addon', () => import('../native/index.js'));
  const nativeExtras = native as { setDumpable?: (on: boolean) => void };
  nativeExtras.setDumpable?.(false); // no core dumps or ptrace-by-uid of a process holding plaintext

  let config: PaldConfig = await loadConfig(opts.configPath);
  const version = await packageVersion();
  const closers: (() => Promise<void> | void)[] = [];
  const closeAll = async (): Promise<void> => {
    while (closers.length) {
      const close = closers.pop()!;
      try {
        await close();
      } catch (err) {
        log(`pald: shutdown: ${errorMessage(err)}`);
      }
    }
  };

  try {
    const audit = await step(`audit log ${config.audit.path}`, () => AuditLog.open(config.audit.path, { log }));
    closers.push(() => audit.close());

    const store = await step(`manifest ${config.manifest}`, () =>
      ManifestStore.open(config.manifest, { log, watch: true }),
    );
    closers.push(() => store.close());
    for (const p of store.current().problems)
      log(`pald: manifest problem: ${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}`);

    const backend = await step(`keys ${config.keys}`, () =>
      OpenPgpBackend.load(config.keys, {
        ...(config.keyPassphraseFile ? { passphraseFile: config.keyPassphraseFile } : {}),
        allocSecure: (bytes: Uint8Array) => native.secureBufferFrom(bytes),
        maxSecretBytes: config.limits.secretBytes,
        log,
      }),
    );
    if (backend.keyIds().length === 0)
      log(`pald: warning: no usable private keys in ${config.keys}: every secret will fail to decrypt`);
    const keysWatcher: FSWatcher = watchFiles(config.keys, {
      ignoreInitial: true,
      depth: 0,
      awaitWriteFinish: { stabilityThreshold: 100, pollInterval: 50 },
    });
    keysWatcher.on('all', () => {
      backend.reloadKeys().then(
        () => log(`pald: keys reloaded (${backend.keyIds().length} usable)`),
        (err: unknown) => log(`pald: keys reload failed: ${errorMessage(err)}`),
      );
    });
    keysWatcher.on('error', (err) => log(`pald: keys watcher: ${String(err)}`));
    closers.push(() => keysWatcher.close());

    // limits.locked_bytes bounds the cache and the copies open handles pin together; the cache
    // gets what the pins leave. Limits are read at start (a restart changes them).
    const limits = config.limits;
    // /metrics reads its gauges at scrape time (closures over the objects made below).
    const metrics = new PalMetrics({
      cache: () => cache.stats(),
      handles: () => handles.stats(),
      auditDropped: () => audit.dropped(),
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
      },
    );
    const handles = new HandleLedger(() => limits, cache);
    closers.push(() => cache.close());

    const identity: IdentityResolver = createIdentityResolver({
      dockerHost: config.docker.host,
      ...(config.cri !== undefined ? { criAddress: config.cri.address } : {}),
      log,
    });
    closers.push(() => identity.close());

    let trust: TrustService = createTrustService(config.trust, {
      log,
      stateDir: config.stateDir,
      checkFile: checkStateFile,
    });
    closers.push(() => trust.close());
    if (config.trust.mode === 'none') {
      log(
        'pald: WARNING: trust.mode is "none" (development only): container labels are taken unverified from image and container config',
      );
    }

    let mount: FuseMount | undefined;
    let stopMode: StopMode = 'unmount';
    let inertLayersAtStart = 0;
    const mountpointRequested = config.mountpoint;
    const startedAt = Date.now();

    const daemonStatus = (): Record<string, unknown> => {
      const snap = store.current();
      return {
        pald: 'running',
        version,
        pid: process.pid,
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
        mountpoint: mountpointRequested,
        mounted: mount !== undefined,
        inertLayersAtStart,
        restart: handover.status(),
        docker: identity.status(),
        trust: trust.status(),
        keys: { dir: config.keys, usable: backend.keyIds().length, problems: backend.problems() },
        ...(redOctober ? { redoctober: redOctober.status() } : {}),
        manifest: {
          path: config.manifest,
          generation: snap.generation,
          entries: snap.entries.size,
          problems: problemsOf(snap),
        },
        cache: cache.stats(),
        audit: audit.health(),
        memory: {
          ...handles.stats(),
          lockedBytesLimit: limits.lockedBytes,
          openHandlesPerContainer: limits.openHandlesPerContainer,
          addonLockedBytes: native.lockedMemoryStats().lockedBytes,
        },
      };
    };

    // What decrypts showed about sealed names and labels: learnt by the filesystem, read by
    // `pal explain`, so both decide with the same facts.
    const sealedFacts = new SealedFactsRegistry();
    const trustSource = {
      verifiedLabels: (image: Parameters<TrustService['verifiedLabels']>[0]) => trust.verifiedLabels(image),
    };
    // Before anything is mounted: what the previous pald left for a restart without a new mount.
    const handover = await startHandover({ adminSocket: config.admin.socket, env: process.env, log });
    const fs = createPalFilesystem({
      inodeKey: handover.inodeKey,
      identity: {
        resolve: async (ref) => {
          const who = await identity.resolve(ref);
          if (who.kind === 'unknown') metrics.error('runtime');
          return who;
        },
        startTime: (pid) => identity.startTime(pid),
      },
      trust: {
        verifiedLabels: async (image) => {
          const decision = await trust.verifiedLabels(image);
          metrics.trustDecision(decision.provider, decision.state);
          return decision;
        },
      },
      manifest: store,
      // Secrets an image carries in /etc/pal, read through Docker's archive endpoint (never a host path).
      // A node with Docker off (`docker.host: ""`, CRI only) has none: CRI has no API to read an image's files.
      ...(config.docker.host === ''
        ? {}
        : {
            imageSecrets: createImageSecretSource({
              readArchive: createDockerArchiveReader(config.docker.host),
              maxCiphertextBytes: config.limits.secretBytes,
              hostEntries: () => store.current().entries,
              log,
              audit,
            }),
          }),
      secrets: cache,
      audit,
      sealedFacts,
      hostAllowUids: () => config.host.allowUids,
      allocSecure: (bytes) => native.secureBufferFrom(bytes),
      // Callers see pald's own health only (SPEC §4): not trust.status() (its last failure names
      // another image), not the manifest, not the containers seen.
      health: () => ({ mounted: mount !== undefined }),
      version,
      handles,
      metrics,
      // The warm path in the addon (src/fs/warm-path.ts): PAL_FAST_PATH=1 turns it on.
      fastPath: process.env.PAL_FAST_PATH === '1',
    });
    identity.onInvalidate(() => fs.forgetCallers());
    store.onChange((next, previous) => {
      fs.manifestChanged(next, previous);
      for (const p of next.problems)
        log(`pald: manifest problem: ${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}`);
    });

    // The session is mounted in a private staging dir and bind-mounted on top of the mountpoint's
    // stack (see prepareMountpoint for why dead layers of earlier runs stay underneath).
    // Canonical paths (as /proc/self/mountinfo shows them), resolved through the parent: the
    // mountpoint itself may be a dead FUSE layer that cannot be stat'ed.
    const canonical = async (p: string, parentMode: number): Promise<string> => {
      await mkdir(dirname(p), { recursive: true, mode: parentMode });
      return join(await realpath(dirname(p)), basename(p));
    };
    const staging = await step(`staging dir for ${config.admin.socket}`, () =>
      canonical(join(dirname(config.admin.socket), 'fs'), 0o700),
    );
    const mountpoint = await step(`mountpoint ${config.mountpoint}`, () => canonical(config.mountpoint, 0o755));
    await handover.confirm(staging, mountpoint);
    const resuming = handover.takeover !== undefined; // the same mount stays: none of the fresh-mount steps
    if (!resuming) await step(`staging dir ${staging}`, () => prepareStagingDir(staging));
    const layers = resuming
      ? { deadLayers: 0 }
      : await step(`mountpoint ${mountpoint}`, () => prepareMountpoint(mountpoint));
    inertLayersAtStart = layers.deadLayers;
    if (layers.deadLayers > 0)
      log(
        `pald: ${mountpoint} has ${layers.deadLayers} layer(s) left by earlier pald runs: stacking on top so running containers follow`,
      );
    const mounted = await step(`mounting ${staging}`, () =>
      native.mount(staging, fs.handlers, {
        fsname: 'pal',
        extraOptions: ['allow_other'],
        generation: handover.generation,
        ...(handover.takeover ? { takeover: handover.takeover } : {}),
        // Expected failures (EIO for a corrupt ciphertext…) are in the audit log already; only
        // errors that are not ours to expect are worth a log line.
        onError: (err, op) => {
          if (!(err instanceof native.FuseError))
            log(`pald: ${op}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
        },
      }),
    );
    mount = mounted;
    fs.attachKernel(mounted);
    closers.push(async () => {
      fs.attachKernel(undefined);
      // Handed over, the mount stays for the next pald. Unmounting ends the session; the layer at
      // the mountpoint stays (inert) so that running rslave containers pick up the next pald.
      await handover.stop(mounted, stopMode);
      mount = undefined;
    });
    if (!resuming) await step(`binding the session onto ${mountpoint}`, () => stackOnto(staging, mountpoint));
    await handover.keep(mounted);

    const admin: AdminServer = await step(`admin socket ${config.admin.socket}`, () =>
      startAdminServer(
        {
          recentAudit: (n) => audit.recent(n),
          subscribeAudit: (listener) => audit.subscribe(listener),
          async handle(request) {
            switch (request.op) {
              case 'status':
                return daemonStatus();
              case 'containers':
                return Promise.all(
                  identity.containers().map(async (c) => {
                    const who = await identity.inspectContainer(c.containerId);
                    const subject = who.kind === 'container' ? imageSubject(who) : undefined;
                    const decision = subject ? await trust.verifiedLabels(subject) : undefined;
                    return {
                      ...c,
                      labels: decision?.labels ?? [],
                      trust: decision?.state ?? 'error',
                      reason: decision?.reason ?? who.reason ?? '',
                    };
                  }),
                );
              case 'secrets':
                return [...store.current().entries.values()].map((e) => ({
                  name: e.name,
                  labels: e.labels,
                  ...(e.namespaces !== undefined ? { namespaces: e.namespaces } : {}),
                  backend: e.backend,
                  mode: modeString(e.mode),
                  size: e.size ?? null,
                  version: e.version,
                  mtime: new Date(e.mtimeMs).toISOString(),
                }));
              case 'explain': {
                // An ro: secret: whether its last decrypt found the delegations it needs.
                const lastDecrypt = redOctober?.status().secrets[request.secret];
                const explanation = await explain(
                  {
                    identity,
                    trust: trustSource,
                    manifest: store,
                    hostAllowUids: () => config.host.allowUids,
                    sealedFacts,
                  },
                  request.container,
                  request.secret,
                );
                return lastDecrypt ? { ...explanation, redoctober: lastDecrypt } : explanation;
              }
            }
          },
        },
        {
          socketPath: config.admin.socket,
          peerUid: (socket: Socket) => {
            const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
            return typeof fd === 'number' && fd >= 0 ? native.peerCredentials(fd).uid : undefined;
          },
          log,
        },
      ),
    );
    closers.push(() => admin.close());

    if (config.metrics.listen !== '') {
      const where = parseListen(config.metrics.listen);
      if (typeof where === 'string') throw new StartupError(`metrics.listen: ${where}`);
      const server = await step(`metrics.listen ${config.metrics.listen}`, () =>
        startMetricsServer(metrics, where.host, where.port, log),
      );
      closers.push(() => server.close());
      log(`pald: metrics on http://${config.metrics.listen}/metrics (no auth: keep it on loopback)`);
    }

    log(`pald: ready on ${mountpoint}`);

    let stopping: Promise<void> | undefined;
    return {
      mountpoint,
      async reload() {
        try {
          const next = await loadConfig(opts.configPath);
          for (const key of [
            'mountpoint',
            'manifest',
            'keys',
            'admin',
            'audit',
            'docker',
            'cri',
            'cache',
            'limits',
            'metrics',
            'redoctober',
          ] as const) {
            if (JSON.stringify(next[key]) !== JSON.stringify(config[key]))
              log(`pald: reload: "${key}" changed; it takes effect at the next restart`);
          }
          const trustChanged = JSON.stringify(next.trust, mapsAsArrays) !== JSON.stringify(config.trust, mapsAsArrays); // delegations is a Map
          // The passphrase file comes from the new file, and so does its absence.
          const { keyPassphraseFile: _previous, ...kept } = config;
          const { keyPassphraseFile } = next;
          config = {
            ...kept,
            host: next.host,
            trust: next.trust,
            ...(keyPassphraseFile === undefined ? {} : { keyPassphraseFile }),
          };
          fs.forgetCallers(); // host.allowUids may have changed: no caller's decision may be replayed
          if (trustChanged) {
            const old = trust;
            trust = createTrustService(config.trust, { log, stateDir: config.stateDir, checkFile: checkStateFile }); // the closer registered at start closes the current one
            await old.close();
          }
        } catch (err) {
          log(`pald: reload: config kept: ${errorMessage(err)}`);
        }
        trust.reset();
        fs.forgetCallers();
        await audit.reopen(); // logrotate's postrotate: continue in a new file; retry a failing one now
        await store.reload().catch((err: unknown) => log(`pald: reload: manifest: ${String(err)}`));
        await backend.reloadKeys().catch((err: unknown) => log(`pald: reload: keys: ${String(err)}`));
        cache.invalidate();
        log('pald: reloaded');
      },
      stop(how: StopMode = 'unmount') {
        stopMode = how;
        stopping ??= closeAll();
        return stopping;
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
