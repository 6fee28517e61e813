// SPEC §3 defaults: what pald uses for every key pald.yaml leaves out (and for no pald.yaml at all).
import type { PaldConfig } from './types.js';

export const DEFAULT_CONFIG_PATH = '/etc/pal/pald.yaml';

export function defaultConfig(env: NodeJS.ProcessEnv = {}): PaldConfig {
  return {
    mountpoint: '/run/pal',
    manifest: '/etc/pal/secrets.yaml',
    keys: '/etc/pal/keys',
    docker: { host: env['DOCKER_HOST'] || 'unix:///var/run/docker.sock' },
    trust: {
      mode: 'notary',
      notary: { server: 'https://notary:4443', ca: '/etc/pal/notary-ca.pem', collections: [], timeoutMs: 10_000 },
    },
    admin: { socket: '/run/pald/admin.sock' },
    audit: { path: '/var/log/pal/audit.log' },
    host: { allowUids: [] },
    cache: { plaintextTtlMs: 5 * 60_000, plaintextMaxBytes: 64 * 1024 * 1024 },
    limits: { openHandlesPerContainer: 1024, lockedBytes: 64 * 1024 * 1024, secretBytes: 16 * 1024 * 1024 },
    metrics: { listen: '' },
    imageSecrets: {},
    stateDir: '/var/lib/pal',
  };
}
