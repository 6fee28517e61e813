// The certificate chain of a Notation signature (notary.x509 scheme), checked as the Notary Project
// specifies and notation-core-go does: leaf first, each certificate issued and signed by the next,
// ending in a self-signed root; CAs with basicConstraints CA and keyCertSign (path lengths kept);
// a code-signing leaf; every certificate valid at the signing time *and* now (the signing time is
// only the signer's claim without a timestamp authority); and one of them in the policy's trust store.
import type { KeyObject } from 'node:crypto';
import { EKU_CODE_SIGNING, EKU_FORBIDDEN_BESIDE_CODE_SIGNING, hasKeyUsage, KeyUsageFlags } from './certificate.js';
import { parseCertificate, type ParsedCertificate } from './certificate.js';
import { NotationError } from './types.js';

function signedBy(child: ParsedCertificate, parent: ParsedCertificate): boolean {
  try {
    return child.node.checkIssued(parent.node) && child.node.verify(parent.publicKey);
  } catch {
    return false;
  }
}

/** A chain of one (`notation cert generate-test`): a leaf signed by its own key, which is no CA. */
function selfSignedLeaf(cert: ParsedCertificate): boolean {
  try {
    return cert.node.subject === cert.node.issuer && cert.node.verify(cert.publicKey);
  } catch {
    return false;
  }
}

function checkCommon(cert: ParsedCertificate, what: string): void {
  if (cert.unknownCritical.length > 0)
    throw new NotationError(
      `${what} has critical extensions pald does not support: ${cert.unknownCritical.join(', ')}`,
    );
  checkKeyStrength(cert.publicKey, what);
}

function checkKeyStrength(key: KeyObject, what: string): void {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa') {
    if ((details?.modulusLength ?? 0) < 2048) throw new NotationError(`${what} has an RSA key shorter than 2048 bits`);
  } else if (key.asymmetricKeyType === 'ec') {
    if (!['prime256v1', 'secp384r1', 'secp521r1'].includes(details?.namedCurve ?? ''))
      throw new NotationError(
        `${what} has an EC key on curve ${details?.namedCurve ?? '?'} (P-256, P-384, P-521 only)`,
      );
  } else {
    throw new NotationError(`${what} has a ${key.asymmetricKeyType ?? 'unknown'} key (RSA or EC only)`);
  }
}

function checkCa(cert: ParsedCertificate, what: string, casBelow: number): void {
  checkCommon(cert, what);
  if (cert.basicConstraints?.ca !== true)
    throw new NotationError(`${what} is not a CA (basicConstraints CA is not set)`);
  if (!hasKeyUsage(cert, KeyUsageFlags.keyCertSign))
    throw new NotationError(`${what} may not sign certificates (keyUsage has no keyCertSign)`);
  const pathLen = cert.basicConstraints.pathLen;
  if (pathLen !== undefined && casBelow > pathLen)
    throw new NotationError(`${what} allows ${pathLen} CA(s) below it (path length), the chain has ${casBelow}`);
}

/** The leaf must be a code-signing certificate: digitalSignature, not a CA, EKU codeSigning. */
export function checkCodeSigningLeaf(cert: ParsedCertificate): void {
  const what = `signing certificate "${cert.subjectText}"`;
  checkCommon(cert, what);
  if (cert.basicConstraints?.ca === true) throw new NotationError(`${what} is a CA certificate`);
  if (!hasKeyUsage(cert, KeyUsageFlags.digitalSignature))
    throw new NotationError(`${what} is not for digital signatures (keyUsage has no digitalSignature)`);
  if (hasKeyUsage(cert, KeyUsageFlags.keyCertSign) || hasKeyUsage(cert, KeyUsageFlags.cRLSign))
    throw new NotationError(`${what} may sign certificates or CRLs, so it is not a code-signing certificate`);
  // Notation accepts a leaf without EKU; pald asks for codeSigning explicitly (a TLS or email
  // certificate from the same CA must not sign images).
  const eku = cert.extendedKeyUsage ?? [];
  if (!eku.includes(EKU_CODE_SIGNING))
    throw new NotationError(`${what} is not a code-signing certificate (extendedKeyUsage has no codeSigning)`);
  const other = eku.filter((e) => EKU_FORBIDDEN_BESIDE_CODE_SIGNING.has(e));
  if (other.length > 0) throw new NotationError(`${what} also has extendedKeyUsage ${other.join(', ')}`);
}

function checkValidity(cert: ParsedCertificate, what: string, at: number, when: string): void {
  if (at < cert.notBefore)
    throw new NotationError(
      `${what} is not valid yet at ${when} (${new Date(at).toISOString()}; valid from ${new Date(cert.notBefore).toISOString()})`,
    );
  if (at > cert.notAfter)
    throw new NotationError(
      `${what} expired at ${new Date(cert.notAfter).toISOString()}, before ${when} (${new Date(at).toISOString()})`,
    );
}

export interface ChainCheck {
  readonly signingTime: number;
  readonly now: number;
  /** DER of the trust store's certificates. */
  readonly trustStore: readonly Buffer[];
}

/** Validate the chain (DER, leaf first); returns the parsed chain, or throws NotationError. */
export function verifyChain(certificates: readonly Buffer[], check: ChainCheck): ParsedCertificate[] {
  const chain = certificates.map((der, i) => parseCertificate(der, `x5c[${i}]`));
  const name = (i: number): string => `certificate "${chain[i]!.subjectText}"`;
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i]!;
    const last = i === chain.length - 1;
    if (!last && !signedBy(cert, chain[i + 1]!))
      throw new NotationError(`${name(i)} is not issued and signed by the next in the chain, ${name(i + 1)}`);
    if (last && !(chain.length === 1 ? selfSignedLeaf(cert) : signedBy(cert, cert)))
      throw new NotationError(`the chain does not end in a self-signed root: ${name(i)} is not self-signed`);
    if (i === 0) checkCodeSigningLeaf(cert);
    else checkCa(cert, name(i), i - 1);
    checkValidity(cert, name(i), check.signingTime, 'the signing time');
    checkValidity(cert, name(i), check.now, 'now');
  }
  const trusted = chain.some((c) => check.trustStore.some((t) => t.equals(c.der)));
  if (!trusted)
    throw new NotationError(`no certificate of the chain (leaf "${chain[0]!.subjectText}") is in the trust store`);
  return chain;
}

const ALG_FOR_KEY: Record<string, string> = {
  prime256v1: 'ES256',
  secp384r1: 'ES384',
  secp521r1: 'ES512',
  rsa2048: 'PS256',
  rsa3072: 'PS384',
  rsa4096: 'PS512',
};

/** The algorithm Notation derives from the signing key; an envelope naming another is refused. */
export function algorithmForKey(key: KeyObject): string | undefined {
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') return ALG_FOR_KEY[d?.namedCurve ?? ''];
  if (key.asymmetricKeyType === 'rsa') return ALG_FOR_KEY[`rsa${d?.modulusLength ?? 0}`];
  return undefined;
}
