// What the providers that read signatures from an OCI registry (cosign, Notation) take besides their
// own section of the config: the clock, the registries' connection settings, and a test switch.
import type { RegistryConfig } from '../config/types.js';

export interface RegistryProviderOptions {
  readonly now: () => number;
  readonly registries?: ReadonlyMap<string, RegistryConfig>;
  /** Skip the file safety checks of key, root and trust store files (unit tests with files in temp dirs). */
  readonly skipFileSafety?: boolean;
}
