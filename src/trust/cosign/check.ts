// `pald --check-config` for the cosign provider and registries: every key, trusted root, CA and
// credentials file is read and checked (File safety included) without contacting any registry.
import type { TrustConfig } from '../../config/types.js';
import { fileSafetyProblem } from '../../store/index.js';
import { loadPinnedKeys } from './keys.js';
import { KeylessVerifier } from './sigstore.js';

export async function checkCosignFiles(trust: TrustConfig): Promise<{ problems: string[]; checked: string[] }> {
  const problems: string[] = [];
  const checked: string[] = [];
  if (trust.mode === 'none') return { problems, checked };
  for (const policy of trust.cosign?.policies ?? []) {
    for (const file of policy.keys) {
      try {
        const [key] = loadPinnedKeys([file]);
        checked.push(`cosign key ${file} (${key!.key.asymmetricKeyType}, ${key!.id})`);
      } catch (e) {
        problems.push(`cosign policy ${policy.repository}: ${(e as Error).message}`);
      }
    }
    if (policy.keyless !== undefined) {
      try {
        new KeylessVerifier(policy.keyless.trustedRoot, policy.keyless.identities);
        checked.push(`sigstore trusted root ${policy.keyless.trustedRoot}`);
      } catch (e) {
        problems.push(`cosign policy ${policy.repository}: ${(e as Error).message}`);
      }
    }
  }
  for (const [host, reg] of trust.registries ?? []) {
    for (const file of [reg.ca, reg.auth]) {
      if (file === undefined) continue;
      const p = await fileSafetyProblem(file, { kind: 'trust store' }).catch((e: Error) => e.message);
      if (p !== undefined) problems.push(`registry ${host}: ${p}`);
      else checked.push(`registry ${host} file ${file}`);
    }
  }
  return { problems, checked };
}
