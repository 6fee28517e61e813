// Test helper: certificates made by openssl (an independent implementation) and Notation JWS
// envelopes signed with node:crypto, in the layout Notation writes (see shared/notes/signatures.md).
import { execFile } from 'node:child_process';
import { constants, createHash, createPrivateKey, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { encode, Tagged } from 'cborg';

const run = promisify(execFile);

export type KeyKind = 'ec256' | 'ec384' | 'ec521' | 'rsa2048' | 'rsa3072' | 'rsa4096';

export interface Issued {
  readonly name: string;
  readonly certPem: string;
  readonly der: Buffer;
  readonly key: KeyObject;
  readonly keyFile: string;
  readonly certFile: string;
}

export interface IssueOptions {
  /** openssl -subj form, e.g. "/C=US/O=Acme/CN=release". */
  readonly subject: string;
  /** Issuer; absent: self-signed. */
  readonly issuer?: Issued;
  /** `ca`: CA:TRUE + keyCertSign; `leaf`: digitalSignature + codeSigning; or extension lines of your own. */
  readonly profile: 'ca' | 'leaf' | string[];
  readonly key?: KeyKind;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

function opensslTime(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

function keyArgs(kind: KeyKind): string[] {
  if (kind.startsWith('ec')) {
    const curve = { ec256: 'P-256', ec384: 'P-384', ec521: 'P-521' }[kind as 'ec256'];
    return ['-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${curve}`];
  }
  return ['-newkey', `rsa:${kind.slice(3)}`];
}

const PROFILES: Record<'ca' | 'leaf', string[]> = {
  ca: ['basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash'],
  leaf: ['basicConstraints = CA:FALSE', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = codeSigning'],
};

/** Issue a certificate with `openssl ca` (explicit validity dates, extensions exactly as given). */
export async function issue(dir: string, name: string, o: IssueOptions): Promise<Issued> {
  const work = path.join(dir, `ca-${name}`);
  await mkdir(work, { recursive: true });
  const keyFile = path.join(work, 'key.pem');
  const csr = path.join(work, 'req.csr');
  const certFile = path.join(work, 'cert.pem');
  const ext = Array.isArray(o.profile) ? o.profile : PROFILES[o.profile];
  await writeFile(path.join(work, 'index.txt'), '');
  await writeFile(path.join(work, 'serial'), createHash('sha256').update(name).digest('hex').slice(0, 16) + '\n');
  const conf = path.join(work, 'openssl.cnf');
  await writeFile(
    conf,
    [
      '[ca]',
      'default_ca = d',
      '[d]',
      `database = ${work}/index.txt`,
      `new_certs_dir = ${work}`,
      `serial = ${work}/serial`,
      'default_md = sha256',
      'policy = p',
      'unique_subject = no',
      'copy_extensions = none',
      '[p]',
      'commonName = optional',
      '[ext]',
      ...ext,
      '',
    ].join('\n'),
  );
  await run('openssl', [
    'req',
    '-new',
    ...keyArgs(o.key ?? 'ec256'),
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    csr,
    '-subj',
    o.subject,
  ]);
  const now = Date.now();
  const notBefore = o.notBefore ?? new Date(now - 3600_000);
  const notAfter = o.notAfter ?? new Date(now + 86400_000);
  const signer =
    o.issuer === undefined
      ? ['-selfsign', '-keyfile', keyFile]
      : ['-cert', o.issuer.certFile, '-keyfile', o.issuer.keyFile];
  await run('openssl', [
    'ca',
    '-batch',
    '-config',
    conf,
    '-extensions',
    'ext',
    '-preserveDN',
    '-notext',
    '-startdate',
    opensslTime(notBefore),
    '-enddate',
    opensslTime(notAfter),
    ...signer,
    '-in',
    csr,
    '-out',
    certFile,
  ]);
  const certPem = await readFile(certFile, 'utf8');
  return {
    name,
    certPem,
    der: Buffer.from(new X509Certificate(certPem).raw),
    key: createPrivateKey(await readFile(keyFile)),
    keyFile,
    certFile,
  };
}

export interface TargetArtifact {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface EnvelopeOptions {
  readonly leaf: Issued;
  /** Leaf first; default: the leaf alone. */
  readonly chain: readonly Issued[];
  readonly target: TargetArtifact;
  readonly alg?: string;
  readonly signingTime?: Date;
  readonly expiry?: Date;
  /** Replace or add protected header members (tests of hostile headers). */
  readonly protectedExtra?: Record<string, unknown>;
  /** Change the payload after signing (a tampered envelope). */
  readonly tamperPayload?: (payload: Record<string, unknown>) => void;
}

const HASH: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

function signJws(alg: string, input: Buffer, key: KeyObject): Buffer {
  const hash = HASH[alg.slice(2)]!;
  if (alg.startsWith('ES')) return sign(hash, input, { key, dsaEncoding: 'ieee-p1363' });
  return sign(hash, input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8 });
}

/** Default alg for a key, as Notation picks it. */
export function algFor(key: KeyObject): string {
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    return curve === 'secp384r1' ? 'ES384' : curve === 'secp521r1' ? 'ES512' : 'ES256';
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 2048;
  return bits >= 4096 ? 'PS512' : bits >= 3072 ? 'PS384' : 'PS256';
}

/** A Notation JWS envelope (flattened JSON serialisation), as `notation sign` writes it. */
export function makeJwsEnvelope(o: EnvelopeOptions): Buffer {
  const alg = o.alg ?? algFor(o.leaf.key);
  const signingTime = o.signingTime ?? new Date(Date.now() - 60_000);
  const header: Record<string, unknown> = {
    alg,
    crit: ['io.cncf.notary.signingScheme', ...(o.expiry ? ['io.cncf.notary.expiry'] : [])],
    cty: 'application/vnd.cncf.notary.payload.v1+json',
    'io.cncf.notary.signingScheme': 'notary.x509',
    'io.cncf.notary.signingTime': signingTime.toISOString().replace(/\.\d+Z$/, 'Z'),
    ...(o.expiry ? { 'io.cncf.notary.expiry': o.expiry.toISOString().replace(/\.\d+Z$/, 'Z') } : {}),
    ...o.protectedExtra,
  };
  const payload: Record<string, unknown> = { targetArtifact: o.target };
  const protectedB64 = b64url(JSON.stringify(header));
  const payloadB64 = b64url(JSON.stringify(payload));
  const signature = signJws(alg, Buffer.from(`${protectedB64}.${payloadB64}`), o.leaf.key);
  let finalPayload = payloadB64;
  if (o.tamperPayload) {
    const copy = JSON.parse(JSON.stringify(payload)) as Record<string, unknown>;
    o.tamperPayload(copy);
    finalPayload = b64url(JSON.stringify(copy));
  }
  const envelope = {
    payload: finalPayload,
    protected: protectedB64,
    header: {
      x5c: (o.chain.length > 0 ? o.chain : [o.leaf]).map((c) => c.der.toString('base64')),
      'io.cncf.notary.signingAgent': 'notation-go/1.3.0',
    },
    signature: b64url(signature),
  };
  return Buffer.from(JSON.stringify(envelope));
}

const COSE_ALG: Record<string, number> = { PS256: -37, PS384: -38, PS512: -39, ES256: -7, ES384: -35, ES512: -36 };

/** A Notation COSE_Sign1 envelope, as `notation sign --signature-format cose` writes it. */
export function makeCoseEnvelope(o: EnvelopeOptions): Buffer {
  const alg = o.alg ?? algFor(o.leaf.key);
  const signingTime = o.signingTime ?? new Date(Date.now() - 60_000);
  const header = new Map<unknown, unknown>([
    [1, COSE_ALG[alg] ?? alg],
    [2, ['io.cncf.notary.signingScheme', ...(o.expiry ? ['io.cncf.notary.expiry'] : [])]],
    [3, 'application/vnd.cncf.notary.payload.v1+json'],
    ['io.cncf.notary.signingScheme', 'notary.x509'],
    ['io.cncf.notary.signingTime', new Tagged(1, Math.floor(signingTime.getTime() / 1000))],
    ...(o.expiry ? [['io.cncf.notary.expiry', new Tagged(1, Math.floor(o.expiry.getTime() / 1000))] as const] : []),
    ...Object.entries(o.protectedExtra ?? {}),
  ]);
  const protectedBytes = encode(header);
  const payload: Record<string, unknown> = { targetArtifact: o.target };
  const payloadBytes = Buffer.from(JSON.stringify(payload));
  const toBeSigned = Buffer.from(encode(['Signature1', protectedBytes, new Uint8Array(0), payloadBytes]));
  const signature = signJws(alg, toBeSigned, o.leaf.key);
  let finalPayload = payloadBytes;
  if (o.tamperPayload) {
    const copy = JSON.parse(JSON.stringify(payload)) as Record<string, unknown>;
    o.tamperPayload(copy);
    finalPayload = Buffer.from(JSON.stringify(copy));
  }
  const unprotected = new Map<unknown, unknown>([
    [33, (o.chain.length > 0 ? o.chain : [o.leaf]).map((c) => new Uint8Array(c.der))],
    ['io.cncf.notary.signingAgent', 'notation-go/1.3.0'],
  ]);
  return Buffer.from(encode(new Tagged(18, [protectedBytes, unprotected, finalPayload, signature])));
}
