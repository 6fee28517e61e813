// cosign v3's storage: a Sigstore bundle (DSSE envelope around an in-toto v1 statement) in an OCI 1.1
// artifact whose `subject` is the image manifest, found through the referrers API or its tag fallback.
// The referrer listing and manifest annotations are unsigned hints; only the verified statement counts.
import type { Bundle } from '@sigstore/bundle';
import type { RegistryClient } from '../oci/types.js';
import { parseDescriptors } from '../oci/descriptor.js';
import { RegistryError } from '../oci/types.js';
import type { PinnedKey } from './keys.js';
import { parseBundle, verifyBundleWithKeys, type KeylessVerifier } from './sigstore.js';
import { BUNDLE_ARTIFACT_TYPE, COSIGN_SIGN_PREDICATE, type FormatOutcome, type VerifiedSignature } from './types.js';

export interface BundleContext {
  readonly client: RegistryClient;
  readonly repository: string;
  readonly digest: string;
  readonly keys: readonly PinnedKey[];
  readonly keyless?: KeylessVerifier;
}

const MAX_REFERRERS = 16;
const MAX_BUNDLE_BYTES = 1024 * 1024;
const IN_TOTO_PAYLOAD = 'application/vnd.in-toto+json';
const STATEMENT_V1 = 'https://in-toto.io/Statement/v1';

function stringRecord(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

/** The signed statement's claims for this digest: its subject's annotations, or why it does not apply. */
export function checkStatement(
  payloadType: string,
  payload: Buffer,
  digest: string,
): { annotations: Record<string, string> } | { problem: string } {
  if (payloadType !== IN_TOTO_PAYLOAD) return { problem: `DSSE payload type is ${JSON.stringify(payloadType)}` };
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    return { problem: 'statement is not JSON' };
  }
  const s = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>) : {};
  if (s['_type'] !== STATEMENT_V1) return { problem: `statement type is ${JSON.stringify(s['_type'])}` };
  if (s['predicateType'] !== COSIGN_SIGN_PREDICATE) {
    return { problem: `predicate ${JSON.stringify(s['predicateType'])} is not a cosign signature` };
  }
  const subjects = Array.isArray(s['subject']) ? (s['subject'] as unknown[]).slice(0, 64) : [];
  const hex = digest.slice('sha256:'.length);
  const subject = subjects.find((x) => {
    const d = typeof x === 'object' && x !== null ? (x as Record<string, unknown>)['digest'] : undefined;
    return typeof d === 'object' && d !== null && (d as Record<string, unknown>)['sha256'] === hex;
  }) as Record<string, unknown> | undefined;
  if (subject === undefined) return { problem: `statement does not name ${digest}` };
  return { annotations: stringRecord(subject['annotations']) };
}

function verifySigner(ctx: BundleContext, bundle: Bundle): string {
  const key = verifyBundleWithKeys(bundle, ctx.keys);
  if (key !== undefined) return `key ${key.file} (${key.id})`;
  const c = bundle.verificationMaterial.content.$case;
  if (c === 'publicKey') throw new Error('signature does not verify with any pinned key of this policy');
  if (ctx.keyless === undefined) throw new Error('signed with a certificate, but this policy has no keyless section');
  return ctx.keyless.verifyBundle(bundle).signer;
}

async function oneReferrer(ctx: BundleContext, referrer: string): Promise<VerifiedSignature | string> {
  const manifest = await ctx.client.getManifest(ctx.repository, referrer);
  const m = manifest.json as Record<string, unknown>;
  const subject = m['subject'] as Record<string, unknown> | undefined;
  if (typeof subject !== 'object' || subject === null || subject['digest'] !== ctx.digest) {
    return 'artifact does not refer to this image';
  }
  const layer = parseDescriptors(m['layers']).find((l) =>
    l.mediaType.startsWith('application/vnd.dev.sigstore.bundle'),
  );
  if (layer === undefined) return 'no Sigstore bundle layer';
  if (layer.size > MAX_BUNDLE_BYTES) return `bundle of ${layer.size} bytes is larger than allowed`;
  const bytes = await ctx.client.getBlob(ctx.repository, layer.digest, MAX_BUNDLE_BYTES);
  let bundle: Bundle;
  try {
    bundle = parseBundle(JSON.parse(bytes.toString('utf8')));
  } catch (e) {
    return `not a Sigstore bundle: ${(e as Error).message}`;
  }
  if (bundle.content.$case !== 'dsseEnvelope') return 'bundle holds no DSSE envelope';
  let signer: string;
  try {
    signer = verifySigner(ctx, bundle);
  } catch (e) {
    return (e as Error).message;
  }
  const env = bundle.content.dsseEnvelope;
  const claims = checkStatement(env.payloadType, Buffer.from(env.payload), ctx.digest);
  if ('problem' in claims) return `signed by ${signer} but ${claims.problem}`;
  return { where: `bundle referrer ${referrer}`, signer, annotations: claims.annotations };
}

export async function bundleSignatures(ctx: BundleContext): Promise<FormatOutcome> {
  const referrers = await ctx.client.listReferrers(ctx.repository, ctx.digest, BUNDLE_ARTIFACT_TYPE);
  const verified: VerifiedSignature[] = [];
  const problems: string[] = [];
  for (const r of referrers.slice(0, MAX_REFERRERS)) {
    let outcome: VerifiedSignature | string;
    try {
      outcome = await oneReferrer(ctx, r.digest);
    } catch (e) {
      // A missing or tampered artifact is this signature's problem; an outage is everyone's.
      if (!(e instanceof RegistryError) || e.kind === 'unreachable' || e.kind === 'denied') throw e;
      outcome = e.message;
    }
    if (typeof outcome === 'string') problems.push(`${ctx.repository} bundle referrer ${r.digest}: ${outcome}`);
    else verified.push(outcome);
  }
  if (referrers.length > MAX_REFERRERS)
    problems.push(`${referrers.length - MAX_REFERRERS} more bundle referrers ignored`);
  return { verified, problems };
}
