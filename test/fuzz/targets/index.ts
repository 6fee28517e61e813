// Every fuzz target by name, loaded lazily: each child process imports only its own.
import type { FuzzTarget } from '../target.js';

type AnyTarget = FuzzTarget<any, any>;

const TARGETS: Record<string, () => Promise<AnyTarget>> = {
  cgroup: async () => (await import('./cgroup.js')).target,
  procfs: async () => (await import('./procfs.js')).target,
  manifest: async () => (await import('./manifest.js')).target,
  'manifest-edit': async () => (await import('./manifest-edit.js')).target,
  config: async () => (await import('./config.js')).target,
  payload: async () => (await import('./payload.js')).target,
  openpgp: async () => (await import('./openpgp.js')).target,
  'canonical-json': async () => (await import('./canonical-json.js')).target,
  'tuf-metadata': async () => (await import('./tuf-metadata.js')).target,
  'tuf-chain': async () => (await import('./tuf-chain.js')).target,
  'docker-event': async () => (await import('./docker-event.js')).target,
  'docker-inspect': async () => (await import('./docker-inspect.js')).target,
  admin: async () => (await import('./admin.js')).target,
  redoctober: async () => (await import('./redoctober.js')).target,
  'notation-envelope': async () => (await import('./notation-envelope.js')).target,
};

/** Targets that check the harness itself; never part of a default run. */
const HARNESS_TARGETS: Record<string, () => Promise<AnyTarget>> = {
  selftest: async () => (await import('./selftest.js')).target,
};

export const TARGET_NAMES: readonly string[] = Object.keys(TARGETS);

export async function loadTarget(name: string): Promise<AnyTarget> {
  const load = Object.hasOwn(TARGETS, name)
    ? TARGETS[name]
    : Object.hasOwn(HARNESS_TARGETS, name)
      ? HARNESS_TARGETS[name]
      : undefined;
  if (load === undefined) throw new Error(`no fuzz target "${name}" (targets: ${TARGET_NAMES.join(', ')})`);
  return load();
}
