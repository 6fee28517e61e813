// SIGHUP / `pal reload`: host.allow_uids and trust take effect now; every other section is read at start
// and only logged as changed. Whatever the new file says, the caches of decisions are dropped, the audit log
// is reopened (logrotate) and the manifest and keys are read again.

import { loadConfig, type PaldConfig } from '../config/index.js';
import { fileSafetyProblem } from '../store/index.js';
import { createTrustService } from '../trust/index.js';
import type { TrustService } from '../trust/types.js';
import { errorMessage } from '../shared/error-message.js';
import type { DaemonParts, Log } from './parts.js';

/** Sections read at start only: a change is logged and waits for the next restart. */
const RESTART_SECTIONS = [
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
  'imageSecrets',
] as const;

/** pald.yaml's spelling of a config field (imageSecrets → image_secrets). */
const yamlKey = (field: string): string => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** JSON.stringify replacer: a Map (trust.notary.collections[].delegations) compares by its entries, not as {}. */
const mapsAsArrays = (_key: string, value: unknown): unknown => (value instanceof Map ? [...value] : value);

/** File safety (SPEC) for the trust state files: rollback memory an attacker could rewrite is none. */
const checkStateFile = (file: string): Promise<string | undefined> => fileSafetyProblem(file, { kind: 'state' });

/** The trust service for a config (at start and on reload). */
export function trustServiceFor(config: PaldConfig, log: Log): TrustService {
  return createTrustService(config.trust, { log, stateDir: config.stateDir, checkFile: checkStateFile });
}

/** Reads the config again and applies what may change while running; a bad file keeps the old config. */
async function reloadConfig(parts: DaemonParts, configPath: string | undefined): Promise<void> {
  const { state, log } = parts;
  try {
    const next = await loadConfig(configPath);
    const config = state.config;
    for (const key of RESTART_SECTIONS) {
      if (JSON.stringify(next[key]) !== JSON.stringify(config[key]))
        log(`pald: reload: "${yamlKey(key)}" changed; it takes effect at the next restart`);
    }
    const trustChanged = JSON.stringify(next.trust, mapsAsArrays) !== JSON.stringify(config.trust, mapsAsArrays); // delegations is a Map
    // The passphrase file comes from the new file, and so does its absence.
    const { keyPassphraseFile: _previous, ...kept } = config;
    const { keyPassphraseFile } = next;
    state.config = {
      ...kept,
      host: next.host,
      trust: next.trust,
      ...(keyPassphraseFile === undefined ? {} : { keyPassphraseFile }),
    };
    parts.fs.forgetCallers(); // host.allowUids may have changed: no caller's decision may be replayed
    if (trustChanged) {
      const old = state.trust;
      state.trust = trustServiceFor(state.config, log); // the closer registered at start closes the current one
      await old.close();
    }
  } catch (err) {
    log(`pald: reload: config kept: ${errorMessage(err)}`);
  }
}

export async function reloadDaemon(parts: DaemonParts, configPath: string | undefined): Promise<void> {
  const { state, log } = parts;
  await reloadConfig(parts, configPath);
  state.trust.reset();
  parts.fs.forgetCallers();
  await parts.audit.reopen(); // logrotate's postrotate: continue in a new file; retry a failing one now
  await parts.store.reload().catch((err: unknown) => log(`pald: reload: manifest: ${String(err)}`));
  await parts.backend.reloadKeys().catch((err: unknown) => log(`pald: reload: keys: ${String(err)}`));
  parts.cache.invalidate();
  parts.fs.forgetCallers(); // the warm path's open leases must not keep serving a plaintext the cache dropped
  log('pald: reloaded');
}
