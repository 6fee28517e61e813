// `pald --check-config` for the Notation provider: every policy's trust store is read and checked
// (File safety, PEM certificates only) without contacting any registry.
import type { TrustConfig } from '../../config/types.js';
import { loadTrustStore } from './trust-store.js';

export function checkNotationFiles(trust: TrustConfig): { problems: string[]; checked: string[] } {
  const problems: string[] = [];
  const checked: string[] = [];
  if (trust.mode === 'none') return { problems, checked };
  for (const policy of trust.notation?.policies ?? []) {
    try {
      const store = loadTrustStore(policy.trustStore);
      checked.push(`notation trust store ${policy.trustStore} (${store.certificates.length} certificate(s))`);
    } catch (e) {
      problems.push(`notation policy ${policy.repository}: ${(e as Error).message}`);
    }
  }
  return { problems, checked };
}
