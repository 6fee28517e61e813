// One X.509 certificate as the Notation checks need it: node:crypto for keys and signatures,
// @peculiar/asn1-x509 for what node does not expose (key usage bits, basic constraints, critical
// extensions, the subject as typed attributes). A certificate that does not parse is an error.
import { X509Certificate, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  KeyUsage,
  KeyUsageFlags,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_authorityKeyIdentifier,
  id_ce_subjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import { ATTRIBUTE_NAMES } from '../../shared/x509-identity.js';
import { NotationError } from './types.js';

export const EKU_CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
/** EKUs a code-signing leaf must not carry beside codeSigning (as Notation: any, TLS server, email, OCSP, timestamping). */
export const EKU_FORBIDDEN_BESIDE_CODE_SIGNING = new Set([
  '2.5.29.37.0',
  '1.3.6.1.5.5.7.3.1',
  '1.3.6.1.5.5.7.3.4',
  '1.3.6.1.5.5.7.3.9',
  '1.3.6.1.5.5.7.3.8',
]);

/** Extensions whose meaning is checked or harmless here; any other critical one is refused. */
const UNDERSTOOD = new Set([
  id_ce_keyUsage,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_ce_authorityKeyIdentifier,
]);

export interface ParsedCertificate {
  readonly der: Buffer;
  readonly node: X509Certificate;
  readonly publicKey: KeyObject;
  /** Subject attributes in order, short name (or dotted OID) → value. */
  readonly subject: readonly (readonly [string, string])[];
  /** "C=US, O=Acme, CN=release", for messages. */
  readonly subjectText: string;
  readonly notBefore: number;
  readonly notAfter: number;
  /** KeyUsageFlags bits, or undefined without the extension. */
  readonly keyUsage?: number;
  readonly basicConstraints?: { readonly ca: boolean; readonly pathLen?: number };
  readonly extendedKeyUsage?: readonly string[];
  /** Critical extensions pald does not understand (their OIDs). */
  readonly unknownCritical: readonly string[];
}

export function describeSubject(attrs: readonly (readonly [string, string])[]): string {
  return attrs.map(([k, v]) => `${k}=${v}`).join(', ') || '(empty subject)';
}

export function parseCertificate(der: Buffer, what: string): ParsedCertificate {
  let node: X509Certificate;
  let asn: Certificate;
  let publicKey: KeyObject;
  try {
    node = new X509Certificate(der);
    publicKey = node.publicKey; // parsed lazily by node: a broken key throws here
    asn = AsnConvert.parse(der, Certificate);
  } catch (e) {
    throw new NotationError(`${what} is not an X.509 certificate (${(e as Error).message})`);
  }
  const tbs = asn.tbsCertificate;
  const subject: [string, string][] = [];
  for (const rdn of tbs.subject) {
    for (const atv of rdn) subject.push([ATTRIBUTE_NAMES[atv.type] ?? atv.type, atv.value.toString()]);
  }
  let keyUsage: number | undefined;
  let basicConstraints: ParsedCertificate['basicConstraints'];
  let extendedKeyUsage: string[] | undefined;
  const unknownCritical: string[] = [];
  const seen = new Set<string>();
  try {
    for (const ext of tbs.extensions ?? []) {
      if (seen.has(ext.extnID)) throw new Error(`extension ${ext.extnID} appears twice`);
      seen.add(ext.extnID);
      const value = ext.extnValue.buffer;
      if (ext.extnID === id_ce_keyUsage) keyUsage = AsnConvert.parse(value, KeyUsage).toNumber();
      else if (ext.extnID === id_ce_basicConstraints) {
        const bc = AsnConvert.parse(value, BasicConstraints);
        basicConstraints = {
          ca: bc.cA,
          ...(bc.pathLenConstraint !== undefined ? { pathLen: bc.pathLenConstraint } : {}),
        };
      } else if (ext.extnID === id_ce_extKeyUsage) extendedKeyUsage = [...AsnConvert.parse(value, ExtendedKeyUsage)];
      else if (ext.critical && !UNDERSTOOD.has(ext.extnID)) unknownCritical.push(ext.extnID);
    }
  } catch (e) {
    throw new NotationError(`${what} has a malformed extension (${(e as Error).message})`);
  }
  return {
    der,
    node,
    publicKey,
    subject,
    subjectText: describeSubject(subject),
    notBefore: tbs.validity.notBefore.getTime().getTime(),
    notAfter: tbs.validity.notAfter.getTime().getTime(),
    ...(keyUsage !== undefined ? { keyUsage } : {}),
    ...(basicConstraints !== undefined ? { basicConstraints } : {}),
    ...(extendedKeyUsage !== undefined ? { extendedKeyUsage } : {}),
    unknownCritical,
  };
}

export function hasKeyUsage(cert: ParsedCertificate, flag: KeyUsageFlags): boolean {
  return cert.keyUsage !== undefined && (cert.keyUsage & flag) !== 0;
}

export { KeyUsageFlags };
