// src/trust: which labels has signed data granted to this image? The only door into this folder.
import type { TrustConfig } from '../config/types.js';
import type { TrustService } from './types.js';
import { createNoneProvider } from './none-provider.js';
import { createNotaryProvider } from './notary/provider.js';
import { createCosignProvider } from './cosign/provider.js';
import { createNotationProvider } from './notation/provider.js';
import { combineProviders } from './combined-provider.js';
import type { TrustProvider } from './provider.js';
import { TrustServiceImpl } from './service.js';
import { fileVersionStore, memoryVersionStore } from './state.js';

export type { ImageSubject, ProviderOutcome, TrustDecision, TrustService, TrustState, TrustStatus } from './types.js';
export { trustProvenance } from './provenance.js';
export { NONE_MODE_WARNING } from './none-provider.js';
export { checkNotationFiles } from './notation/check.js';
export { checkCosignFiles } from './cosign/check.js';

export interface TrustServiceOptions {
  readonly log?: (msg: string) => void;
  readonly now?: () => number;
  /** Longest time a decision is reused before it is verified again; default 30 s. */
  readonly refreshMs?: number;
  /**
   * pald.yaml `state_dir`: where the highest trust metadata versions seen are kept, so that neither a
   * restart nor a reload can be fed older signed metadata. Without it they are kept in memory only.
   */
  readonly stateDir?: string;
  /** File safety check for the state files (a problem, or undefined); a failing file fails closed. */
  readonly checkFile?: (file: string) => Promise<string | undefined>;
}

const DEFAULT_REFRESH_MS = 30_000;

function unconfigured(): TrustProvider {
  const reason = 'trust.mode is signed but no provider (trust.notary, trust.cosign, trust.notation) is configured';
  return {
    name: 'signed',
    configError: reason,
    async labelsFor() {
      return { state: 'error', claims: [], reason };
    },
    async close() {},
  };
}

export function createTrustService(config: TrustConfig, opts: TrustServiceOptions = {}): TrustService {
  const log = opts.log ?? ((msg: string) => console.error(msg));
  const now = opts.now ?? Date.now;
  const refreshMs = opts.refreshMs ?? config.recheckMs ?? DEFAULT_REFRESH_MS;
  let provider: TrustProvider;
  if (config.mode === 'none') {
    provider = createNoneProvider();
  } else {
    const providers: TrustProvider[] = [];
    // Notary is asked when it has collections, or when it is the only provider (the seed's behaviour).
    const notaryWanted =
      config.notary !== undefined &&
      (config.notary.collections.length > 0 || (config.cosign === undefined && config.notation === undefined));
    if (notaryWanted) {
      // One verified collection serves every image of that repository for a short while.
      const versions =
        opts.stateDir !== undefined
          ? fileVersionStore(opts.stateDir, opts.checkFile !== undefined ? { checkFile: opts.checkFile } : {})
          : memoryVersionStore();
      providers.push(
        createNotaryProvider(config.notary, { now, collectionMaxAgeMs: Math.min(refreshMs, 5_000), versions }),
      );
    }
    if (config.cosign !== undefined) {
      providers.push(
        createCosignProvider(config.cosign, {
          now,
          ...(config.registries !== undefined ? { registries: config.registries } : {}),
        }),
      );
    }
    if (config.notation !== undefined) {
      providers.push(
        createNotationProvider(config.notation, {
          now,
          ...(config.registries !== undefined ? { registries: config.registries } : {}),
        }),
      );
    }
    provider = providers.length > 0 ? combineProviders(providers) : unconfigured();
  }
  return new TrustServiceImpl(provider, { log, now, refreshMs });
}
