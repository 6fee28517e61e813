// What the Notation provider needs from a registry: the shared OCI client (src/trust/oci), named
// here so that unit tests can stand in a registry of their own.
import type { OciDescriptor, RegistryClient } from '../oci/types.js';

export type NotationRegistry = RegistryClient;
export type NotationDescriptor = OciDescriptor;

/** The registry could not be reached (an outage, not bad data): earlier decisions may stand. */
export function isUnreachable(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { kind?: unknown }).kind === 'unreachable';
}
