// cosign's legacy storage (cosign ≤ 2, and v3 with --new-bundle-format=false): tag `sha256-<hex>.sig`
// holds a manifest whose layers are simple-signing payloads; each layer's annotation carries the
// base64 DER signature over the payload bytes. The payload is verified as fetched (digest-checked
// blob), never re-serialised, and must name this image's digest and repository.
import { normaliseRepository } from '../repository.js';
import type { RegistryClient } from '../oci/types.js';
import { parseDescriptors } from '../oci/descriptor.js';
import { RegistryError } from '../oci/types.js';
import { verifyWithKey, type PinnedKey } from './keys.js';
import {
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_MEDIA_TYPE,
  SIMPLE_SIGNING_TYPE,
  CERTIFICATE_ANNOTATION,
  type FormatOutcome,
  type VerifiedSignature,
} from './types.js';

/** Verifies a keyless legacy signature (certificate + Rekor bundle annotations); throws why not. */
export type LegacyKeylessVerifier = (
  payload: Buffer,
  signature: Buffer,
  annotations: Readonly<Record<string, string>>,
) => { signer: string; expiresAt?: number };

export interface LegacyContext {
  readonly client: RegistryClient;
  /** Normalised repository name ("127.0.0.1:5000/pal/app"). */
  readonly repository: string;
  /** The signed manifest digest ("sha256:…"). */
  readonly digest: string;
  readonly keys: readonly PinnedKey[];
  readonly keyless?: LegacyKeylessVerifier;
}

const MAX_LAYERS = 32;
const MAX_PAYLOAD_BYTES = 64 * 1024;
const MAX_SIGNATURE_B64 = 16 * 1024;

function stringRecord(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

/** The payload's claims, checked against the image; returns its optional annotations or why not. */
export function checkSimpleSigningPayload(
  payload: Buffer,
  digest: string,
  repository: string,
): { annotations: Record<string, string> } | { problem: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    return { problem: 'payload is not JSON' };
  }
  const critical = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>)['critical'] : undefined;
  if (typeof critical !== 'object' || critical === null) return { problem: 'payload has no "critical" section' };
  const c = critical as Record<string, unknown>;
  if (c['type'] !== SIMPLE_SIGNING_TYPE) return { problem: `payload type is ${JSON.stringify(c['type'])}` };
  const image = c['image'] as Record<string, unknown> | undefined;
  const signedDigest = typeof image === 'object' && image !== null ? image['docker-manifest-digest'] : undefined;
  if (signedDigest !== digest) return { problem: `payload signs ${JSON.stringify(signedDigest)}, not ${digest}` };
  const identity = c['identity'] as Record<string, unknown> | undefined;
  const ref = typeof identity === 'object' && identity !== null ? identity['docker-reference'] : undefined;
  // cosign writes the repository without tag or digest; a signature made for another repository grants nothing here.
  if (typeof ref !== 'string' || normaliseRepository(ref) !== repository) {
    return { problem: `payload is for repository ${JSON.stringify(ref)}, not ${repository}` };
  }
  const optional = (doc as Record<string, unknown>)['optional'];
  return { annotations: stringRecord(optional) };
}

export async function legacySignatures(ctx: LegacyContext): Promise<FormatOutcome> {
  const tag = `${ctx.digest.replace(':', '-')}.sig`;
  let manifest;
  try {
    manifest = await ctx.client.getManifest(ctx.repository, tag);
  } catch (e) {
    if (e instanceof RegistryError && e.kind === 'not-found') return { verified: [], problems: [] };
    throw e;
  }
  const layers = parseDescriptors((manifest.json as Record<string, unknown>)['layers']).filter(
    (l) => l.mediaType === SIMPLE_SIGNING_MEDIA_TYPE,
  );
  const verified: VerifiedSignature[] = [];
  const problems: string[] = [];
  const where = `${ctx.repository}:${tag}`;
  for (const [i, layer] of layers.slice(0, MAX_LAYERS).entries()) {
    const name = `${where} layer ${i}`;
    const sigB64 = layer.annotations?.[SIGNATURE_ANNOTATION];
    if (sigB64 === undefined || sigB64.length > MAX_SIGNATURE_B64 || !/^[A-Za-z0-9+/]+=*$/.test(sigB64)) {
      problems.push(`${name}: no usable ${SIGNATURE_ANNOTATION} annotation`);
      continue;
    }
    if (layer.size > MAX_PAYLOAD_BYTES) {
      problems.push(`${name}: payload of ${layer.size} bytes is larger than allowed`);
      continue;
    }
    let payload: Buffer;
    try {
      payload = await ctx.client.getBlob(ctx.repository, layer.digest, MAX_PAYLOAD_BYTES);
    } catch (e) {
      // A missing or tampered payload is this signature's problem; an outage is everyone's.
      if (!(e instanceof RegistryError) || e.kind === 'unreachable' || e.kind === 'denied') throw e;
      problems.push(`${name}: ${e.message}`);
      continue;
    }
    const signature = Buffer.from(sigB64, 'base64');
    let signer: string | undefined;
    let expiresAt: number | undefined;
    const key = ctx.keys.find((k) => verifyWithKey(k, payload, signature));
    if (key !== undefined) {
      signer = `key ${key.file} (${key.id})`;
    } else if (ctx.keyless !== undefined && layer.annotations?.[CERTIFICATE_ANNOTATION] !== undefined) {
      try {
        ({ signer, expiresAt } = ctx.keyless(payload, signature, layer.annotations));
      } catch (e) {
        problems.push(`${name}: keyless signature not accepted: ${(e as Error).message}`);
        continue;
      }
    }
    if (signer === undefined) {
      problems.push(`${name}: signature does not verify with any pinned key of this policy`);
      continue;
    }
    const claims = checkSimpleSigningPayload(payload, ctx.digest, ctx.repository);
    if ('problem' in claims) {
      problems.push(`${name}: signed by ${signer} but ${claims.problem}`);
      continue;
    }
    verified.push({
      where: `legacy signature ${where}`,
      signer,
      annotations: claims.annotations,
      ...(expiresAt !== undefined ? { expiresAt } : {}),
    });
  }
  if (layers.length === 0) problems.push(`${where}: no simple-signing layers`);
  return { verified, problems };
}
