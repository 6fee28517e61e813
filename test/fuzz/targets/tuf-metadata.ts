// Notary's TUF metadata files as served by a notary server we do not trust: every parser behind
// the envelope (root, timestamp, snapshot, targets), key ids and signature checks over the
// canonical form. Errors must be MetadataError, KeyError or CanonicalJsonError.
import fc from 'fast-check';
import { CanonicalJsonError, canonicalJsonBytes } from '../../../src/trust/notary/canonical-json.js';
import { customDataLabels } from '../../../src/trust/labels.js';
import { canonicalKeyId, certificateInfo, KeyError, keyId, verifySignature } from '../../../src/trust/notary/keys.js';
import {
  MetadataError,
  parseRoot,
  parseSignedDocument,
  parseSnapshot,
  parseTargets,
  parseTimestamp,
  type SignedDocument,
} from '../../../src/trust/notary/metadata.js';
import { hostileJsonValue, hostileText, PROTOTYPE_KEYS, showText } from '../mutate.js';
import { timed, type FuzzTarget, type Scale, type Shape } from '../target.js';
import { tufFixture } from './tuf-fixtures.js';

interface State {
  readonly seeds: string[];
}

const TOKENS = [
  '"_type"',
  '"Root"',
  '"Targets"',
  '"Snapshot"',
  '"Timestamp"',
  '"signed"',
  '"signatures"',
  '"keyid"',
  '"sig"',
  '"method"',
  '"keys"',
  '"keyval"',
  '"public"',
  '"roles"',
  '"threshold"',
  '"keyids"',
  '"expires"',
  '"version"',
  '"meta"',
  '"hashes"',
  '"length"',
  '"delegations"',
  '"paths"',
  '"path_hash_prefixes"',
  '"custom"',
  '"pal"',
  '"labels"',
  '"ed25519"',
  '"ecdsa"',
  '"rsa-x509"',
  '"ecdsa-x509"',
  '"eddsa"',
  '"rsapss"',
  '"2099-01-01T00:00:00Z"',
  '"0000-00-00T00:00:00Z"',
  '1e308',
  '-1',
  '"AAAA"',
  '"===="',
];

function shapes(scale: Scale, state: State): Array<Shape<string>> {
  const deep = scale === 'full' ? 100_000 : 10_000;
  const root = state.seeds[0]!;
  return [
    {
      name: `signed nested × ${deep}`,
      input: `{"signatures":[],"signed":${'{"a":'.repeat(deep)}1${'}'.repeat(deep)}}`,
    },
    { name: `"[" × ${deep}`, input: '['.repeat(deep) },
    ...PROTOTYPE_KEYS.flatMap((k) => [
      {
        name: `${k} as key id, role and hash`,
        input: root
          .replace('"keys":{', `"keys":{"${k}":{"keytype":"ed25519","keyval":{"public":"AAAA"}},`)
          .replace('"roles":{', `"roles":{"${k}":{"keyids":[],"threshold":1},`),
      },
      {
        name: `${k} in meta and targets`,
        input: `{"signatures":[],"signed":{"_type":"Snapshot","expires":"2099-01-01T00:00:00Z","version":1,"meta":{"${k}":{"hashes":{"${k}":"AAAA"},"length":1}}}}`,
      },
      {
        name: `${k} as a target`,
        input: `{"signatures":[],"signed":{"_type":"Targets","expires":"2099-01-01T00:00:00Z","version":1,"targets":{"${k}":{"hashes":{"sha256":"AAAA"},"length":1,"custom":{"pal":{"${k}":1}}}},"delegations":{"keys":{},"roles":[{"name":"${k}","keyids":[],"threshold":1,"paths":["${k}"]}]}}}`,
      },
    ]),
    // About 1 MiB, the most a root or timestamp file may be (snapshot names the others' sizes).
    {
      name: `${scale === 'full' ? 20_000 : 2_000} targets`,
      input: `{"signatures":[],"signed":{"_type":"Targets","expires":"2099-01-01T00:00:00Z","version":1,"targets":{${Array.from({ length: scale === 'full' ? 20_000 : 2_000 }, (_, i) => `"t${i}":{"hashes":{"sha256":"AAAA"},"length":1}`).join(',')}}}}`,
    },
    {
      name: 'expires far out of range',
      input: root.replace(/"expires":"[^"]*"/, '"expires":"9999-99-99T99:99:99.999999999999999+99:99"'),
    },
  ];
}

function checkKeysAndSignatures(
  doc: SignedDocument,
  keys: Readonly<Record<string, { keytype: string; public: string }>>,
): void {
  let data: Buffer | undefined;
  try {
    data = canonicalJsonBytes(doc.signed);
  } catch (e) {
    if (!(e instanceof CanonicalJsonError)) throw e;
  }
  for (const key of Object.values(keys)) {
    try {
      keyId(key);
      canonicalKeyId(key);
      certificateInfo(key);
      if (data !== undefined) for (const s of doc.signatures) verifySignature(key, s.method, s.sig, data);
    } catch (e) {
      if (!(e instanceof KeyError)) throw e;
    }
  }
}

export const target: FuzzTarget<string, State> = {
  name: 'tuf-metadata',
  covers:
    'parseSignedDocument, parseRoot/Timestamp/Snapshot/Targets, keyId, canonicalKeyId, certificateInfo, verifySignature, customDataLabels (src/trust/notary/*)',
  accepts: [MetadataError],
  async setup(ctx) {
    const fixture = await tufFixture(ctx.workDir, true);
    return {
      seeds: ['root', 'timestamp', 'snapshot', 'targets', 'targets/releases'].map((r) =>
        fixture.files.get(r)!.toString('utf8'),
      ),
    };
  },
  shapes,
  arbitrary: (state) =>
    fc.oneof(
      { weight: 5, arbitrary: hostileText(state.seeds, { tokens: TOKENS, maxEdits: 4 }) },
      {
        weight: 1,
        arbitrary: fc
          .record({
            signed: hostileJsonValue(),
            signatures: fc.oneof(
              hostileJsonValue(2),
              fc.array(
                fc.record({
                  keyid: fc.constant('ab'.repeat(32)),
                  method: fc.constantFrom('ecdsa', 'eddsa', 'rsapss', 'x'),
                  sig: fc.base64String({ maxLength: 96 }),
                }),
                { maxLength: 3 },
              ),
            ),
          })
          .map((v) => JSON.stringify(v)),
      },
    ),
  check(text) {
    const doc = timed(() => parseSignedDocument(Buffer.from(text, 'utf8'), 'fuzzed'));
    const parsers = [parseRoot, parseTimestamp, parseSnapshot, (d: SignedDocument) => parseTargets(d, 'targets')];
    for (const parse of parsers) {
      let parsed: ReturnType<(typeof parsers)[number]>;
      try {
        parsed = timed(() => parse(doc));
      } catch (e) {
        if (e instanceof MetadataError) continue;
        throw e;
      }
      if (!Number.isSafeInteger(parsed.version) || !Number.isFinite(parsed.expires))
        return 'version or expiry is not a number';
      if ('keys' in parsed) checkKeysAndSignatures(doc, parsed.keys);
      if ('delegationKeys' in parsed) {
        checkKeysAndSignatures(doc, parsed.delegationKeys);
        for (const t of parsed.targets) {
          const { labels } = customDataLabels(t.custom);
          if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string'))
            return 'custom labels are not strings';
        }
      }
    }
    return undefined;
  },
  show: showText,
};
