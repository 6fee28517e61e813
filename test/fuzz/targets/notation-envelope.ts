// Notation signature envelopes (JWS and COSE) as a registry serves them: hostile bytes. verifyEnvelope
// returns a verified signature or throws NotationError with a reason; nothing else may escape.
import fc from 'fast-check';
import { NotationError } from '../../../src/trust/notation/types.js';
import { verifyEnvelope } from '../../../src/trust/notation/verify.js';
import { issue, makeCoseEnvelope, makeJwsEnvelope } from '../../helpers/notation-craft.js';
import { hostileJsonValue, mutatedBytes, mutatedText, showBytes } from '../mutate.js';
import { timed, type FuzzTarget, type Scale, type Shape, type TargetContext } from '../target.js';

interface Input {
  readonly cose: boolean;
  readonly bytes: Uint8Array;
}

interface State {
  readonly trustStore: Buffer[];
  readonly jws: string;
  readonly cose: Uint8Array;
}

const JWS = 'application/jose+json';
const COSE = 'application/cose';

async function setup(ctx: TargetContext): Promise<State> {
  const root = await issue(ctx.workDir, 'root', { subject: '/O=Acme/CN=Root', profile: 'ca' });
  const leaf = await issue(ctx.workDir, 'leaf', { subject: '/O=Acme/CN=release', profile: 'leaf', issuer: root });
  const target = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: 'sha256:' + 'ab'.repeat(32),
    size: 10,
    annotations: { 'pal.labels': 'a' },
  };
  const expiry = new Date(Date.now() + 86400_000);
  return {
    trustStore: [root.der],
    jws: makeJwsEnvelope({ leaf, chain: [leaf, root], target, expiry }).toString(),
    cose: new Uint8Array(makeCoseEnvelope({ leaf, chain: [leaf, root], target, expiry })),
  };
}

function shapes(scale: Scale): Array<Shape<Input>> {
  const deep = scale === 'full' ? 100_000 : 10_000;
  const enc = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));
  return [
    { name: `JWS "[" × ${deep}`, input: { cose: false, bytes: enc('['.repeat(deep)) } },
    { name: `COSE nested arrays × ${deep}`, input: { cose: true, bytes: new Uint8Array(deep).fill(0x81) } },
    { name: 'COSE indefinite array', input: { cose: true, bytes: new Uint8Array([0xd2, 0x9f, 0xff]) } },
    {
      name: 'COSE huge declared length',
      input: { cose: true, bytes: new Uint8Array([0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) },
    },
    { name: 'JWS 300 KiB', input: { cose: false, bytes: enc(`{"payload":"${'A'.repeat(300 * 1024)}"}`) } },
  ];
}

export const target: FuzzTarget<Input, State> = {
  name: 'notation-envelope',
  covers: 'verifyEnvelope, parseJwsEnvelope, parseCoseEnvelope, verifyChain (src/trust/notation)',
  accepts: [NotationError],
  setup,
  shapes,
  arbitrary: (state) =>
    fc.oneof(
      {
        weight: 3,
        arbitrary: mutatedText([state.jws], {
          tokens: ['"protected"', '"payload"', '"header"', '"x5c"', '"signature"'],
        }).map((s) => ({ cose: false, bytes: new Uint8Array(Buffer.from(s)) })),
      },
      { weight: 3, arbitrary: mutatedBytes([state.cose]).map((bytes) => ({ cose: true, bytes })) },
      {
        weight: 1,
        arbitrary: hostileJsonValue().map((v) => ({
          cose: false,
          bytes: new Uint8Array(Buffer.from(JSON.stringify(v) ?? 'null')),
        })),
      },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }).map((bytes) => ({ cose: true, bytes })) },
    ),
  check(input, state) {
    const v = timed(() =>
      verifyEnvelope(input.cose ? COSE : JWS, Buffer.from(input.bytes), {
        trustStore: state.trustStore,
        identities: ['*'],
        now: Date.now(),
      }),
    );
    // Only the seed's signed content can verify, whatever else an edit left intact.
    return v.target.digest === 'sha256:' + 'ab'.repeat(32) && v.target.annotations['pal.labels'] === 'a'
      ? undefined
      : `a signature verified for content that was not signed: ${JSON.stringify(v.target)}`;
  },
  show: (input) => `{ cose: ${input.cose}, bytes: ${showBytes(input.bytes)} }`,
};
