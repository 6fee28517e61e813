// cosign signatures for the tests and the demo, written exactly as cosign stores them (no cosign binary
// exists here), made with node:crypto: the legacy `sha256-<hex>.sig` simple-signing manifest, and
// cosign v3's Sigstore bundle (DSSE + in-toto statement) as an OCI 1.1 referrer with the referrers tag
// fallback.
import { createHash, sign, type KeyObject } from 'node:crypto';
import {
  fetchManifest,
  OCI_MANIFEST,
  pushBlob,
  pushManifest,
  pushReferrer,
  type Descriptor,
  type TestRegistry,
} from '../components/registry.js';

export const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const BUNDLE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** How cosign signs with this key: ECDSA P-256 SHA-256 (DER), RSA PKCS#1 v1.5 SHA-256, Ed25519 pure. */
export function cosignSign(key: KeyObject, message: Buffer): Buffer {
  return sign(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', message, key);
}

export interface LegacyOptions {
  annotations?: Record<string, string> | null;
  /** The digest written into the payload (default: the image's). */
  signedDigest?: string;
  /** docker-reference (default: host/repo). */
  dockerReference?: string;
  type?: string;
  /** Sign these bytes but upload the payload (tampered after signing). */
  signOther?: Buffer;
}

export function simpleSigningPayload(reference: string, digest: string, opts: LegacyOptions = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': reference },
        image: { 'docker-manifest-digest': digest },
        type: opts.type ?? 'cosign container image signature',
      },
      optional: opts.annotations === undefined ? null : opts.annotations,
    }),
  );
}

/** Adds one signature layer to `sha256-<hex>.sig` (cosign appends to what is there). */
export async function signLegacy(
  reg: TestRegistry,
  repo: string,
  image: Descriptor,
  /** A key, or a keyless signer returning the layer's annotations (signature, certificate, …). */
  key: KeyObject | ((payload: Buffer) => Promise<Record<string, string>>),
  opts: LegacyOptions = {},
): Promise<{ payload: Buffer; signature: Buffer; tag: string }> {
  const payload = simpleSigningPayload(
    opts.dockerReference ?? `${reg.host}/${repo}`,
    opts.signedDigest ?? image.digest,
    opts,
  );
  const annotations =
    typeof key === 'function'
      ? await key(opts.signOther ?? payload)
      : { 'dev.cosignproject.cosign/signature': cosignSign(key, opts.signOther ?? payload).toString('base64') };
  const signature = Buffer.from(annotations['dev.cosignproject.cosign/signature']!, 'base64');
  const layer = await pushBlob(reg, repo, payload, SIMPLE_SIGNING);
  const tag = `${image.digest.replace(':', '-')}.sig`;
  const existing = await fetchManifest(reg, repo, tag);
  const layers = existing ? (JSON.parse(existing.toString()) as { layers: Descriptor[] }).layers : [];
  const config = await pushBlob(
    reg,
    repo,
    Buffer.from('{"architecture":"","config":{},"os":""}'),
    'application/vnd.oci.image.config.v1+json',
  );
  layers.push({ ...layer, annotations });
  await pushManifest(reg, repo, tag, { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers });
  return { payload, signature, tag };
}

/** DSSE pre-authentication encoding (what the DSSE signature covers). */
export function preAuthEncoding(payloadType: string, payload: Buffer): Buffer {
  const prefix = `DSSEv1 ${Buffer.byteLength(payloadType)} ${payloadType} ${payload.length} `;
  return Buffer.concat([Buffer.from(prefix), payload]);
}

export interface BundleOptions {
  annotations?: Record<string, string>;
  signedDigest?: string;
  predicateType?: string;
  /** Sign this statement but put the original in the envelope. */
  tamperAfterSigning?: (statement: Buffer) => Buffer;
}

export function cosignStatement(digest: string, opts: BundleOptions = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [
        { digest: { sha256: digest.slice(7) }, ...(opts.annotations ? { annotations: opts.annotations } : {}) },
      ],
      predicateType: opts.predicateType ?? 'https://sigstore.dev/cosign/sign/v1',
      predicate: {},
    }),
  );
}

/** A key-signed Sigstore bundle v0.3 (no transparency-log entry, as `cosign sign --key … --tlog-upload=false`). */
export function keyedBundle(key: KeyObject, statement: Buffer, opts: BundleOptions = {}): Buffer {
  const payloadType = 'application/vnd.in-toto+json';
  const sig = cosignSign(key, preAuthEncoding(payloadType, statement));
  const shipped = opts.tamperAfterSigning ? opts.tamperAfterSigning(statement) : statement;
  const hint = createHash('sha256')
    .update(key.asymmetricKeyType ? Buffer.from(key.asymmetricKeyType) : Buffer.alloc(0))
    .digest('base64');
  return Buffer.from(
    JSON.stringify({
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: {
        publicKey: { hint },
        tlogEntries: [],
        timestampVerificationData: { rfc3161Timestamps: [] },
      },
      dsseEnvelope: {
        payload: shipped.toString('base64'),
        payloadType,
        signatures: [{ sig: sig.toString('base64'), keyid: '' }],
      },
    }),
  );
}

/** Pushes a bundle as cosign v3 does: an artifact referring to the image, plus the referrers tag fallback. */
export async function pushBundle(
  reg: TestRegistry,
  repo: string,
  image: Descriptor,
  bundle: Buffer,
  opts: { skipFallbackTag?: boolean } = {},
): Promise<Descriptor> {
  return pushReferrer(
    reg,
    repo,
    image,
    BUNDLE_TYPE,
    [{ mediaType: BUNDLE_TYPE, bytes: bundle }],
    {
      'dev.sigstore.bundle.content': 'dsse-envelope',
      'dev.sigstore.bundle.predicateType': 'https://sigstore.dev/cosign/sign/v1',
    },
    opts,
  );
}

/** A bundle signed with a key, in one call. */
export async function signBundle(
  reg: TestRegistry,
  repo: string,
  image: Descriptor,
  key: KeyObject,
  opts: BundleOptions = {},
): Promise<Descriptor> {
  return pushBundle(reg, repo, image, keyedBundle(key, cosignStatement(opts.signedDigest ?? image.digest, opts), opts));
}
