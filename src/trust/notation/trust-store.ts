// A Notation policy's trust store: a directory of PEM CA certificates (as `notation cert add
// --type ca --store NAME` keeps them), or one PEM file. Every file must pass File safety and hold
// only certificates: a store that cannot be read entirely is refused, never used in part.
import { X509Certificate } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { FileSafetyError, fileSafetyProblemSync, readRegularFileSync } from '../../store/index.js';

const MAX_FILES = 256;
const MAX_FILE_BYTES = 1024 * 1024;
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END \1-----/g;

export interface TrustStore {
  readonly location: string;
  /** DER of every certificate. */
  readonly certificates: readonly Buffer[];
}

function certificatesIn(file: string, text: string): Buffer[] {
  const out: Buffer[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    if (m[1] !== 'CERTIFICATE') throw new Error(`${file}: holds a ${m[1]} block (certificates only)`);
    const der = Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64');
    try {
      new X509Certificate(der);
    } catch (e) {
      throw new Error(`${file}: a certificate does not parse (${(e as Error).message})`);
    }
    out.push(der);
  }
  if (out.length === 0) throw new Error(`${file}: no PEM certificate in it`);
  return out;
}

/** Load a trust store; throws an Error naming the file and the problem (FileSafetyError for File safety). */
export function loadTrustStore(location: string, opts: { skipFileSafety?: boolean } = {}): TrustStore {
  const st = statSync(location);
  const files = st.isDirectory()
    ? readdirSync(location)
        .filter((name) => !name.startsWith('.'))
        .sort()
        .map((name) => path.join(location, name))
    : [location];
  if (files.length > MAX_FILES) throw new Error(`trust store ${location}: more than ${MAX_FILES} files`);
  const certificates: Buffer[] = [];
  for (const file of files) {
    if (opts.skipFileSafety !== true) {
      const problem = fileSafetyProblemSync(file, { kind: 'trust store' });
      if (problem !== undefined) throw new FileSafetyError(problem, file);
    }
    const { bytes } = readRegularFileSync(file, MAX_FILE_BYTES);
    certificates.push(...certificatesIn(file, bytes.toString('utf8')));
  }
  if (certificates.length === 0) throw new Error(`trust store ${location}: no certificates`);
  return { location, certificates };
}
