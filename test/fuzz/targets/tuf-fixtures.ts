// A complete, validly signed Notary collection to mutate, made with the unit tests' own crafter.
import {
  generateKey,
  generateX509Key,
  craftCollection,
  canonicalIdOf,
  type CraftKey,
  type CraftSpec,
} from '../../helpers/notary-craft.js';

export const GUN = 'registry.example.com/billing/app';
const HEX = 'ab'.repeat(32);

export interface TufFixture {
  readonly keys: CraftSpec['keys'];
  readonly delegationKey: CraftKey;
  readonly rootPin: string;
  readonly files: Map<string, Buffer>;
}

/** x509Root: an rsa-x509 root as Notary makes them (slow to verify); else an ed25519 one. */
export async function tufFixture(dir: string, x509Root: boolean): Promise<TufFixture> {
  const root = x509Root ? await generateX509Key('rsa-x509', dir, GUN) : generateKey('ed25519');
  const keys = {
    root,
    timestamp: generateKey('ed25519'),
    snapshot: generateKey('ecdsa'),
    targets: generateKey('ed25519'),
  };
  const delegationKey = generateKey('ecdsa');
  const files = craftCollection({
    keys,
    targets: {
      '1.0': { sha256Hex: HEX, custom: { pal: { labels: ['billing'] } } },
      latest: { sha256Hex: HEX, length: 1234 },
    },
    delegations: [
      {
        name: 'targets/releases',
        key: delegationKey,
        paths: ['dev/', ''],
        targets: { 'dev/1.1': { sha256Hex: HEX, custom: { pal: { labels: ['dev'] } } } },
      },
    ],
  });
  return { keys, delegationKey, rootPin: canonicalIdOf(root), files };
}
