// pald's Red October backend, when pald.yaml has a `redoctober:` section (otherwise `ro:` entries
// fail with EIO: "the redoctober backend is not configured").
import type { PaldConfig } from '../config/index.js';
import { RedOctoberBackend, type SecureAllocator } from '../crypto/index.js';

export async function loadRedOctober(
  config: PaldConfig,
  allocSecure: SecureAllocator,
): Promise<RedOctoberBackend | undefined> {
  const ro = config.redoctober;
  if (!ro) return undefined;
  if (!ro.ca) throw new Error('redoctober.ca is required (the CA of the server certificate, pinned)');
  if (!ro.passwordFile) throw new Error('redoctober.password_file is required (the machine account password)');
  return RedOctoberBackend.load({
    server: ro.server,
    caFile: ro.ca,
    user: ro.user,
    passwordFile: ro.passwordFile,
    allocSecure,
    maxSecretBytes: config.limits.secretBytes,
  });
}
