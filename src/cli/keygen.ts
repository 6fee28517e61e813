// pal keygen --out DIR [--name NAME]: a host OpenPGP key pair for pald.
import { mkdir, readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as openpgp from 'openpgp';
import { secretNameProblem, writeFileAtomic } from '../store/index.js';

export interface CliIO {
  readonly stdin?: NodeJS.ReadableStream;
  readonly stdout?: NodeJS.WritableStream;
  readonly stderr?: NodeJS.WritableStream;
}

const USAGE = `usage: pal keygen --out DIR [--name NAME] [--passphrase-file FILE] [--force]
  writes DIR/NAME.key (armored private key, mode 0600) and DIR/NAME.pub.asc
  NAME defaults to this host's name; --force replaces an existing key pair`;

export async function run(argv: string[], io: CliIO = {}): Promise<number> {
  const out = io.stdout ?? process.stdout;
  const err = io.stderr ?? process.stderr;
  let values: { out?: string; name?: string; 'passphrase-file'?: string; force?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        out: { type: 'string' },
        name: { type: 'string' },
        'passphrase-file': { type: 'string' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    err.write(`pal keygen: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    out.write(USAGE + '\n');
    return 0;
  }
  if (!values.out) {
    err.write(`pal keygen: --out DIR is required\n${USAGE}\n`);
    return 2;
  }
  const name = values.name ?? hostname().split('.')[0] ?? 'pal';
  const nameProblem = secretNameProblem(name);
  if (nameProblem) {
    err.write(`pal keygen: --name: ${nameProblem}\n`);
    return 2;
  }
  const dir = path.resolve(values.out);
  const keyFile = path.join(dir, `${name}.key`);
  const pubFile = path.join(dir, `${name}.pub.asc`);
  try {
    if (!values.force) {
      for (const f of [keyFile, pubFile]) {
        const exists = await stat(f).then(
          () => true,
          () => false,
        );
        if (exists) {
          err.write(`pal keygen: ${f} already exists (use --force to replace it)\n`);
          return 1;
        }
      }
    }
    let passphrase: string | undefined;
    if (values['passphrase-file'])
      passphrase = (await readFile(values['passphrase-file'], 'utf8')).replace(/\r?\n$/, '');
    // ECC: Curve25519 (ECDH) encryption subkey, Ed25519 primary: openpgp.js's default.
    const key = await openpgp.generateKey({
      type: 'ecc',
      curve: 'curve25519Legacy',
      userIDs: [{ name: `pal host key ${name}` }],
      format: 'armored',
      ...(passphrase ? { passphrase } : {}),
    });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(keyFile, key.privateKey, 0o600);
    await writeFileAtomic(pubFile, key.publicKey, 0o644);
    const parsed = await openpgp.readKey({ armoredKey: key.publicKey });
    out.write(
      `wrote ${keyFile} (private, 0600) and ${pubFile}\nkey id ${parsed.getKeyID().toHex()}, fingerprint ${parsed.getFingerprint()}\n`,
    );
    return 0;
  } catch (e) {
    err.write(`pal keygen: ${(e as Error).message}\n`);
    return 1;
  }
}
