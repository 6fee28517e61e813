// Test helper: a private Sigstore (Fulcio-like CA and Rekor-like log from @sigstore/mock, no CT log),
// its trusted_root.json, and keyless cosign signatures in both storage formats, made as cosign makes
// them: an ephemeral key, a short-lived certificate naming the identity, a transparency-log entry.
import { initializeCA, initializeTLog } from '@sigstore/mock';
import { createHash, generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { preAuthEncoding } from '../../scripts/signing/cosign-craft.js';

const OID_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';

export interface Identity {
  issuer: string;
  subject: string;
}

export interface PrivateSigstore {
  readonly trustedRootFile: string;
  /** A cosign v3 bundle: DSSE over `statement`, certificate for `identity`, a dsse log entry. */
  keylessBundle(statement: Buffer, identity: Identity, opts?: { certTime?: Date }): Promise<Buffer>;
  /** A legacy `.sig` layer's annotations (signature, certificate, chain, Rekor bundle) for `payload`. */
  keylessLegacy(payload: Buffer, identity: Identity): Promise<Record<string, string>>;
}

const bytes = (v: ArrayBufferView) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
const sha256hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

function pem(der: Buffer): string {
  return new X509Certificate(der).toString();
}

export async function privateSigstore(dir: string, name = 'trusted_root.json'): Promise<PrivateSigstore> {
  const caKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const logKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ca = await initializeCA(caKeys);
  const tlog = await initializeTLog('https://rekor.pal.test', logKeys);
  const start = '2020-01-01T00:00:00Z';
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: 'https://rekor.pal.test',
        hashAlgorithm: 'SHA2_256',
        publicKey: {
          rawBytes: tlog.publicKey.toString('base64'),
          keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          validFor: { start },
        },
        logId: { keyId: createHash('sha256').update(tlog.publicKey).digest('base64') },
      },
    ],
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: 'https://fulcio.pal.test',
        certChain: { certificates: [{ rawBytes: bytes(ca.rootCertificate).toString('base64') }] },
        validFor: { start },
      },
    ],
    ctlogs: [],
    timestampAuthorities: [],
  };
  const trustedRootFile = path.join(dir, name);
  await writeFile(trustedRootFile, JSON.stringify(trustedRoot), { mode: 0o644 });

  async function certificate(identity: Identity, certTime?: Date) {
    const eph = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = eph.publicKey.export({ type: 'spki', format: 'der' });
    const issue = certTime ? await initializeCAAt(certTime) : ca;
    const der = bytes(
      await issue.issueCertificate({
        publicKey: spki,
        subjectAltName: identity.subject,
        extensions: [{ oid: OID_ISSUER_V2, value: identity.issuer }],
      }),
    );
    return { eph, der };
  }

  // A certificate issued in the past by the same CA key (for expired-certificate tests).
  async function initializeCAAt(when: Date) {
    return initializeCA(caKeys, undefined, when);
  }

  function tlogEntry(
    logged: Record<
      string,
      {
        body: string;
        integratedTime: number;
        logID: string;
        logIndex: number;
        verification: { signedEntryTimestamp: string };
      }
    >,
    kind: string,
  ) {
    const e = Object.values(logged)[0]!;
    return {
      e,
      json: {
        logIndex: String(e.logIndex),
        logId: { keyId: Buffer.from(e.logID, 'hex').toString('base64') },
        kindVersion: { kind, version: '0.0.1' },
        integratedTime: String(e.integratedTime),
        inclusionPromise: { signedEntryTimestamp: e.verification.signedEntryTimestamp },
        canonicalizedBody: e.body,
      },
    };
  }

  return {
    trustedRootFile,
    async keylessBundle(statement, identity, opts = {}) {
      const { eph, der } = await certificate(identity, opts.certTime);
      const payloadType = 'application/vnd.in-toto+json';
      const sig = sign('sha256', preAuthEncoding(payloadType, statement), eph.privateKey);
      const envelope = {
        payload: statement.toString('base64'),
        payloadType,
        signatures: [{ sig: sig.toString('base64'), keyid: '' }],
      };
      const logged = (await tlog.log({
        apiVersion: '0.0.1',
        kind: 'dsse',
        spec: {
          envelopeHash: { algorithm: 'sha256', value: sha256hex(JSON.stringify(envelope)) },
          payloadHash: { algorithm: 'sha256', value: sha256hex(statement) },
          signatures: [{ signature: sig.toString('base64'), verifier: Buffer.from(pem(der)).toString('base64') }],
        },
      })) as never;
      const { json } = tlogEntry(logged, 'dsse');
      return Buffer.from(
        JSON.stringify({
          // v0.1 carries the log's signed entry timestamp alone; v0.3 would also want an inclusion proof.
          mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
          verificationMaterial: {
            x509CertificateChain: { certificates: [{ rawBytes: der.toString('base64') }] },
            tlogEntries: [json],
            timestampVerificationData: { rfc3161Timestamps: [] },
          },
          dsseEnvelope: envelope,
        }),
      );
    },
    async keylessLegacy(payload, identity) {
      const { eph, der } = await certificate(identity);
      const sig = sign('sha256', payload, eph.privateKey);
      const logged = (await tlog.log({
        apiVersion: '0.0.1',
        kind: 'hashedrekord',
        spec: {
          data: { hash: { algorithm: 'sha256', value: sha256hex(payload) } },
          signature: {
            content: sig.toString('base64'),
            publicKey: { content: Buffer.from(pem(der)).toString('base64') },
          },
        },
      })) as never;
      const { e } = tlogEntry(logged, 'hashedrekord');
      return {
        'dev.cosignproject.cosign/signature': sig.toString('base64'),
        'dev.sigstore.cosign/certificate': pem(der),
        'dev.sigstore.cosign/chain': pem(bytes(ca.rootCertificate)),
        'dev.sigstore.cosign/bundle': JSON.stringify({
          SignedEntryTimestamp: e.verification.signedEntryTimestamp,
          Payload: { body: e.body, integratedTime: e.integratedTime, logIndex: e.logIndex, logID: e.logID },
        }),
      };
    },
  };
}
