// Sigstore verification through sigstore-js (@sigstore/verify): bundles signed with a pinned key, and
// keyless signatures (Fulcio certificate chain to the operator's trusted_root.json, transparency-log
// inclusion, identity = issuer + subject). Legacy keyless `.sig` layers are converted to the bundle
// shape cosign itself uses internally (message signature + certificate + Rekor signed entry timestamp),
// so that one verifier checks both formats.
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier, type SignedEntity, type TrustMaterial } from '@sigstore/verify';
import { createHash } from 'node:crypto';
import type { CosignIdentityConfig } from '../../config/types.js';
import { FileSafetyError, fileSafetyProblemSync, readRegularFileSync } from '../../store/index.js';
import type { PinnedKey } from './keys.js';
import { CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, REKOR_BUNDLE_ANNOTATION } from './types.js';

const MAX_TRUSTED_ROOT_BYTES = 1024 * 1024;

/** A Sigstore bundle (JSON) → the validated bundle, or throws why not. */
export function parseBundle(json: unknown): Bundle {
  return bundleFromJSON(json);
}

function noTrustMaterial(key: PinnedKey): TrustMaterial {
  return {
    certificateAuthorities: [],
    timestampAuthorities: [],
    tlogs: [],
    ctlogs: [],
    publicKey: () => ({ publicKey: key.key, validFor: () => true }),
  };
}

/**
 * The pinned key that signed this bundle, or undefined. A key pin needs no log or timestamp, so
 * transparency-log entries (cosign uploads one by default) are neither required nor trusted here.
 */
export function verifyBundleWithKeys(bundle: Bundle, keys: readonly PinnedKey[]): PinnedKey | undefined {
  if (bundle.verificationMaterial.content.$case !== 'publicKey') return undefined;
  const entity: SignedEntity = { ...toSignedEntity(bundle), tlogEntries: [], timestamps: [] };
  for (const key of keys) {
    try {
      new Verifier(noTrustMaterial(key), { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(entity);
      return key;
    } catch {
      // next key
    }
  }
  return undefined;
}

function identityMatches(id: CosignIdentityConfig, issuer: string | undefined, subject: string | undefined): boolean {
  if (issuer !== id.issuer || subject === undefined) return false;
  if (id.subject !== undefined) return subject === id.subject;
  return new RegExp(`^(?:${id.subjectRegexp!})$`).test(subject);
}

export class KeylessVerifier {
  private readonly verifier: Verifier;

  constructor(
    readonly trustedRootFile: string,
    private readonly identities: readonly CosignIdentityConfig[],
    opts: { skipFileSafety?: boolean } = {},
  ) {
    if (opts.skipFileSafety !== true) {
      const problem = fileSafetyProblemSync(trustedRootFile, { kind: 'trust store' });
      if (problem !== undefined) throw new FileSafetyError(problem, trustedRootFile);
    }
    const text = readRegularFileSync(trustedRootFile, MAX_TRUSTED_ROOT_BYTES).bytes.toString('utf8');
    let root: TrustedRoot;
    try {
      root = TrustedRoot.fromJSON(JSON.parse(text));
    } catch (e) {
      throw new Error(`${trustedRootFile}: not a Sigstore trusted_root.json: ${(e as Error).message}`);
    }
    if (root.certificateAuthorities.length === 0 || root.tlogs.length === 0) {
      throw new Error(`${trustedRootFile}: needs at least one certificate authority and one transparency log`);
    }
    // A root with CT logs (the public-good instance) requires an SCT in the certificate; a private
    // Fulcio without a CT log cannot give one.
    this.verifier = new Verifier(toTrustMaterial(root), {
      tlogThreshold: 1,
      ctlogThreshold: root.ctlogs.length > 0 ? 1 : 0,
      timestampThreshold: 1,
    });
  }

  /** Verifies a certificate-signed bundle; returns who signed it or throws why not. */
  verifyBundle(bundle: Bundle, artifact?: Buffer): { signer: string } {
    const c = bundle.verificationMaterial.content.$case;
    if (c !== 'x509CertificateChain' && c !== 'certificate') throw new Error('bundle is not signed with a certificate');
    return this.check(toSignedEntity(bundle, artifact));
  }

  private check(entity: SignedEntity): { signer: string } {
    const signer = this.verifier.verify(entity);
    const issuer = signer.identity?.extensions?.issuer;
    const subject = signer.identity?.subjectAlternativeName;
    const who = `keyless ${issuer ?? '(no issuer)'} ${subject ?? '(no subject)'}`;
    if (!this.identities.some((id) => identityMatches(id, issuer, subject))) {
      throw new Error(`${who} is not an identity this policy allows`);
    }
    return { signer: who };
  }

  /** A legacy `.sig` layer signed keylessly: certificate, chain and Rekor bundle annotations. */
  verifyLegacy(payload: Buffer, signature: Buffer, annotations: Readonly<Record<string, string>>): { signer: string } {
    return this.check(toSignedEntity(legacyToBundle(payload, signature, annotations), payload));
  }
}

function pemToDer(pem: string): Buffer[] {
  const out: Buffer[] = [];
  const re = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/g;
  for (let m = re.exec(pem); m !== null && out.length < 10; m = re.exec(pem)) {
    out.push(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  }
  return out;
}

/** cosign's `dev.sigstore.cosign/bundle` annotation: {SignedEntryTimestamp, Payload{body,integratedTime,logIndex,logID}}. */
export function legacyToBundle(
  payload: Buffer,
  signature: Buffer,
  annotations: Readonly<Record<string, string>>,
): Bundle {
  const certs = [
    ...pemToDer(annotations[CERTIFICATE_ANNOTATION] ?? ''),
    ...pemToDer(annotations[CHAIN_ANNOTATION] ?? ''),
  ];
  if (certs.length === 0) throw new Error('no certificate annotation');
  const rekor = JSON.parse(annotations[REKOR_BUNDLE_ANNOTATION] ?? 'null') as {
    SignedEntryTimestamp?: unknown;
    Payload?: { body?: unknown; integratedTime?: unknown; logIndex?: unknown; logID?: unknown };
  } | null;
  const p = rekor?.Payload;
  if (
    rekor === null ||
    typeof rekor.SignedEntryTimestamp !== 'string' ||
    typeof p?.body !== 'string' ||
    typeof p.integratedTime !== 'number' ||
    typeof p.logIndex !== 'number' ||
    typeof p.logID !== 'string'
  ) {
    throw new Error('no usable transparency-log bundle annotation');
  }
  const body = JSON.parse(Buffer.from(p.body, 'base64').toString('utf8')) as { kind?: unknown; apiVersion?: unknown };
  return bundleFromJSON({
    mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
    verificationMaterial: {
      x509CertificateChain: { certificates: certs.map((c) => ({ rawBytes: c.toString('base64') })) },
      tlogEntries: [
        {
          logIndex: String(p.logIndex),
          logId: { keyId: Buffer.from(p.logID, 'hex').toString('base64') },
          kindVersion: { kind: String(body.kind), version: String(body.apiVersion) },
          integratedTime: String(p.integratedTime),
          inclusionPromise: { signedEntryTimestamp: rekor.SignedEntryTimestamp },
          canonicalizedBody: p.body,
        },
      ],
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
    messageSignature: {
      messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(payload).digest('base64') },
      signature: signature.toString('base64'),
    },
  });
}
