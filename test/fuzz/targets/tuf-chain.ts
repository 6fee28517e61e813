// The whole TUF chain (loadCollection) fed by a metadata source we control: one role file
// replaced by a mutation and, as an attacker holding that role's key could, re-signed and
// re-sealed (snapshot and timestamp re-point at the new bytes), so the mutation reaches the
// parsers and checks behind the signatures. Every failure must be a CollectionError.
import fc from 'fast-check';
import { CollectionError, loadCollection } from '../../../src/trust/notary/collection.js';
import { memoryVersionStore } from '../../../src/trust/state.js';
import { FetchError, type MetadataSource } from '../../../src/trust/notary/source.js';
import { resealCollection, signDocument, type CraftKey } from '../../helpers/notary-craft.js';
import { hostileJsonValue, mutatedText, PROTOTYPE_KEYS } from '../mutate.js';
import { timed, type FuzzTarget, type Scale, type Shape } from '../target.js';
import { GUN, tufFixture, type TufFixture } from './tuf-fixtures.js';

const ROLES = ['root', 'timestamp', 'snapshot', 'targets', 'targets/releases'] as const;
type Role = (typeof ROLES)[number];

interface Input {
  readonly role: Role;
  /** The replacement file's text, or its `signed` part when `resign` is set. */
  readonly text: string;
  readonly resign: boolean;
}

class FixedSource implements MetadataSource {
  constructor(private readonly files: Map<string, Buffer>) {}
  async fetchRole(gun: string, role: string, maxBytes: number): Promise<Buffer> {
    const f = gun === GUN ? this.files.get(role) : undefined;
    if (f === undefined) throw new FetchError(`${role}.json of ${gun}: not on the notary server (404)`, 'not-found');
    if (f.length > maxBytes)
      throw new FetchError(`${role}.json of ${gun}: larger than the ${maxBytes} bytes allowed`, 'bad-response');
    return f;
  }
  close(): void {}
}

function signerOf(f: TufFixture, role: Role): CraftKey {
  return role === 'targets/releases' ? f.delegationKey : f.keys[role];
}

function build(f: TufFixture, input: Input): Map<string, Buffer> {
  let bytes: Buffer = Buffer.from(input.text, 'utf8');
  if (input.resign) {
    let signed: unknown;
    try {
      signed = JSON.parse(input.text);
    } catch {
      signed = undefined;
    }
    // The crafter's own canonical encoder is recursive: what it cannot sign goes out unsigned.
    if (typeof signed === 'object' && signed !== null) {
      try {
        bytes = signDocument(signed, [signerOf(f, input.role)]);
      } catch {
        bytes = Buffer.from(input.text, 'utf8');
      }
    }
  }
  return resealCollection(f.files, { snapshot: f.keys.snapshot, timestamp: f.keys.timestamp }, { [input.role]: bytes });
}

function signedText(f: TufFixture, role: Role): string {
  return JSON.stringify((JSON.parse(f.files.get(role)!.toString('utf8')) as { signed: unknown }).signed);
}

function shapes(scale: Scale, f: TufFixture): Array<Shape<Input>> {
  const deep = scale === 'full' ? 100_000 : 10_000;
  const out: Array<Shape<Input>> = [];
  for (const role of ['targets', 'targets/releases'] as const) {
    const t = signedText(f, role);
    out.push({
      name: `${role}: custom nested × ${deep}`,
      input: {
        role,
        resign: true,
        text: t.replace('"custom":', `"custom":${'{"pal":'.repeat(deep)}1${'}'.repeat(deep)},"x":`),
      },
    });
    for (const k of PROTOTYPE_KEYS) {
      out.push({
        name: `${role}: target named ${k}, custom.pal.${k}`,
        input: {
          role,
          resign: true,
          text: t.replace(
            '"targets":{',
            `"targets":{"${k}":{"custom":{"pal":{"${k}":[]},"${k}":1},"hashes":{"sha256":"${Buffer.alloc(32).toString('base64')}","${k}":"AAAA"},"length":1},`,
          ),
        },
      });
    }
  }
  const targets = signedText(f, 'targets');
  for (const k of PROTOTYPE_KEYS) {
    out.push({
      name: `targets: delegation named targets/${k}`,
      input: {
        role: 'targets',
        resign: true,
        text: targets.replace('"roles":[', `"roles":[{"keyids":[],"name":"targets/${k}","paths":[""],"threshold":1},`),
      },
    });
    out.push({
      name: `snapshot: meta ${k}`,
      input: {
        role: 'snapshot',
        resign: true,
        text: signedText(f, 'snapshot').replace('"meta":{', `"meta":{"${k}":{"hashes":{"sha256":"AAAA"},"length":1},`),
      },
    });
  }
  out.push({
    name: '40 delegations deep',
    input: {
      role: 'targets',
      resign: true,
      text: targets.replace(
        '"roles":[',
        `"roles":[${Array.from({ length: 40 }, (_, i) => `{"keyids":[],"name":"targets/r${i}","paths":[""],"threshold":1}`).join(',')},`,
      ),
    },
  });
  return out;
}

export const target: FuzzTarget<Input, TufFixture> = {
  name: 'tuf-chain',
  covers: 'loadCollection over a fake MetadataSource (src/trust/notary/collection.ts)',
  accepts: [CollectionError],
  settleMs: 10_000,
  // An ed25519 root keeps each input cheap; tuf-metadata covers certificate roots.
  setup: (ctx) => tufFixture(ctx.workDir, false),
  shapes,
  arbitrary(f) {
    const signedSeeds = ROLES.map((r) => signedText(f, r));
    const fileSeeds = ROLES.map((r) => f.files.get(r)!.toString('utf8'));
    const tokens = [
      '"custom"',
      '"pal"',
      '"labels"',
      '"delegations"',
      '"paths"',
      '"name"',
      '"targets/releases"',
      '"targets/releases/x"',
      '"threshold"',
      '"keyids"',
      '"version"',
      '"expires"',
      '"length"',
      '"hashes"',
      '"sha256"',
      '"sha512"',
      '0',
      '-1',
      '2',
    ];
    return fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({
          role: fc.constantFrom(...ROLES),
          text: mutatedText(signedSeeds, { tokens, maxEdits: 3 }),
          resign: fc.constant(true),
        }),
      },
      {
        weight: 2,
        arbitrary: fc.record({
          role: fc.constantFrom(...ROLES),
          text: mutatedText(fileSeeds, { tokens, maxEdits: 3 }),
          resign: fc.constant(false),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          role: fc.constantFrom(...ROLES),
          text: hostileJsonValue().map((v) => JSON.stringify(v) ?? 'null'),
          resign: fc.constant(true),
        }),
      },
    );
  },
  async check(input, f) {
    const files = build(f, input);
    const result = await timed(() =>
      loadCollection({
        gun: GUN,
        rootPins: [f.rootPin],
        rootThreshold: 1,
        source: new FixedSource(files),
        versions: memoryVersionStore(),
        now: Date.now(),
      }),
    );
    if (result.gun !== GUN || !Number.isFinite(result.expiresAt)) return 'result without gun or expiry';
    for (const t of result.targets) {
      if (!/^[0-9a-f]{64}$/.test(t.sha256Hex) || !Number.isSafeInteger(t.length) || t.length < 0)
        return `target ${JSON.stringify(t.name)} with a bad hash or length`;
      if (t.role !== 'targets' && !t.role.startsWith('targets/')) return `target signed by role ${t.role}`;
    }
    if (!result.problems.every((p) => typeof p === 'string' && p !== '')) return 'a problem without a reason';
    return undefined;
  },
  show: (input) => JSON.stringify(input),
};
