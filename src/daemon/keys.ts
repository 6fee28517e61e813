// pald's private keys: loaded at start, reloaded when the keys dir changes, and counted for /metrics.

import { watch as watchFiles } from 'chokidar';
import type { PaldConfig } from '../config/index.js';
import { OpenPgpBackend } from '../crypto/index.js';
import type { Backend } from '../crypto/types.js';
import type { ManifestEntry } from '../store/index.js';
import { errorMessage } from '../shared/error-message.js';
import type { PalMetrics } from './metrics.js';
import { step, type Closers } from './startup.js';
import type { Log, NativeAddon } from './parts.js';

/** Loads the OpenPGP keys and watches their dir, reloading them on any change. */
export async function openKeys(
  config: PaldConfig,
  native: NativeAddon,
  closers: Closers,
  log: Log,
): Promise<OpenPgpBackend> {
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
  const keysWatcher = watchFiles(config.keys, {
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
  return backend;
}

/** The backend, with its decrypts and failures counted for /metrics (a denial is not a failure). */
export function countedBackend(backend: Backend, metrics: PalMetrics): Backend {
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
