// pal seal: encrypt a secret with its name and labels sealed inside, write the
// ciphertext next to the manifest and add/replace its entry (both atomically).
import { mkdir, readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as openpgp from 'openpgp';
import { sealOpenPgp } from '../crypto/index.js';
import {
  fileSafetyProblem,
  labelProblem,
  parseMode,
  secretNameProblem,
  upsertManifestEntry,
  upsertManifestEntryText,
  writeFileAtomic,
} from '../store/index.js';
import type { CliIO } from './keygen.js';
import { resolveRoOptions, RoUsageError, sealRo, type RoSealOptions } from './seal-ro.js';

const USAGE = `usage: pal seal --name NAME --label L [--label L2 ...] --key PUB.asc [--key PUB2.asc ...]
                [--manifest /etc/pal/secrets.yaml | --image-manifest DIR] [--in FILE] [--mode 0400]
  reads the secret from --in FILE or stdin; writes <manifest dir>/NAME.pgp and adds/replaces
  the NAME entry of the manifest.
       pal seal --name NAME --label L --ro --owners a,b,c [--minimum 2] [--ro-server URL] [--ro-ca FILE]
                [--ro-user NAME] [--ro-password-file FILE] [--config /etc/pal/pald.yaml] [...]
  Red October (M of N): the password comes from $PAL_RO_PASSWORD or --ro-password-file (never argv);
  server, CA and account default to the \`redoctober:\` section of --config. Writes NAME.ro.`;

const RO_OPTIONS = ['owners', 'minimum', 'ro-server', 'ro-ca', 'ro-user', 'ro-password-file', 'config'] as const;

const MAX_SECRET_BYTES = 8 * 1024 * 1024;

type SealValues = Record<string, string | string[] | boolean | undefined>;

/** What the command line asks for, checked; the usage error is a string. */
interface SealRequest {
  readonly name: string;
  readonly labels: string[];
  readonly keyFiles: string[];
  readonly mode: number;
  readonly useRo: boolean;
}

function parseSealArgs(argv: string[]): { values: SealValues } | string {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        name: { type: 'string' },
        label: { type: 'string', multiple: true },
        key: { type: 'string', multiple: true },
        manifest: { type: 'string' },
        'image-manifest': { type: 'string' },
        in: { type: 'string' },
        mode: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        ro: { type: 'boolean' },
        owners: { type: 'string' },
        minimum: { type: 'string' },
        'ro-server': { type: 'string' },
        'ro-ca': { type: 'string' },
        'ro-user': { type: 'string' },
        'ro-password-file': { type: 'string' },
        config: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    });
    return { values };
  } catch (e) {
    return (e as Error).message;
  }
}

function checkRequest(values: SealValues): SealRequest | string {
  const useRo = values['ro'] === true;
  const roOnly = RO_OPTIONS.filter((o) => values[o] !== undefined);
  if (!useRo && roOnly.length > 0) return `--${roOnly.join(', --')} only go with --ro`;

  const name = values['name'] as string | undefined;
  const labels = [...new Set((values['label'] as string[] | undefined) ?? [])];
  const keyFiles = (values['key'] as string[] | undefined) ?? [];
  if (!name) return '--name is required';
  const nameProblem = secretNameProblem(name);
  if (nameProblem) return `--name: ${nameProblem}`;
  if (labels.length === 0) return 'at least one --label is required';
  const badLabel = labels.map(labelProblem).find((p) => p !== undefined);
  if (badLabel) return `--label: ${badLabel}`;
  if (useRo && keyFiles.length > 0) return 'give --key (OpenPGP) or --ro (Red October), not both';
  if (!useRo && keyFiles.length === 0) return 'at least one --key PUB.asc (or --ro) is required';
  if (values['manifest'] && values['image-manifest']) return 'give --manifest or --image-manifest, not both';
  const mode = values['mode'] === undefined ? 0o400 : parseMode(values['mode'] as string);
  if (mode === undefined)
    return `--mode: expected an octal mode like 0400 (at most 0777), got "${String(values['mode'])}"`;
  return { name, labels, keyFiles, mode, useRo };
}

export async function run(argv: string[], io: CliIO = {}): Promise<number> {
  const out = io.stdout ?? process.stdout;
  const err = io.stderr ?? process.stderr;
  const usage = (msg: string): number => {
    err.write(`pal seal: ${msg}\n${USAGE}\n`);
    return 2;
  };
  const parsed = parseSealArgs(argv);
  if (typeof parsed === 'string') return usage(parsed);
  const { values } = parsed;
  if (values['help']) {
    out.write(USAGE + '\n');
    return 0;
  }
  const request = checkRequest(values);
  if (typeof request === 'string') return usage(request);

  let roOptions: RoSealOptions | undefined;
  if (request.useRo) {
    try {
      roOptions = await resolveRoOptions(values, process.env);
    } catch (e) {
      if (e instanceof RoUsageError) return usage(e.message);
      err.write(`pal seal: ${(e as Error).message}\n`);
      return 1;
    }
  }
  try {
    await seal(request, values, roOptions, io);
    return 0;
  } catch (e) {
    err.write(`pal seal: ${(e as Error).message}\n`);
    return 1;
  }
}

/** The manifest to edit: the file a symlinked manifest points to, not the link. Creates its folder. */
async function manifestPathOf(values: SealValues): Promise<string> {
  const imageDir = values['image-manifest'] as string | undefined;
  const manifestPath = imageDir
    ? path.join(path.resolve(imageDir), 'secrets.yaml')
    : path.resolve((values['manifest'] as string | undefined) ?? '/etc/pal/secrets.yaml');
  await mkdir(path.dirname(manifestPath), { recursive: true, mode: 0o755 });
  return realpath(manifestPath).catch(() => manifestPath);
}

/** The public parts of the --key files (a private key is accepted with a warning). */
async function publicKeysOf(keyFiles: readonly string[], err: NodeJS.WritableStream): Promise<string[]> {
  const publicKeysArmored: string[] = [];
  for (const f of keyFiles) {
    const armored = await readFile(f, 'utf8');
    const key = await openpgp.readKey({ armoredKey: armored }).catch((e: Error) => {
      throw new Error(`${f}: not an OpenPGP key: ${e.message}`);
    });
    if (key.isPrivate())
      err.write(
        `pal seal: warning: ${f} is a private key; only its public part is used (share NAME.pub.asc instead)\n`,
      );
    publicKeysArmored.push(key.toPublic().armor());
  }
  return publicKeysArmored;
}

/** Seals the secret, writes the ciphertext, then the manifest entry; the plaintext is wiped whatever happens. */
async function seal(
  request: SealRequest,
  values: SealValues,
  roOptions: RoSealOptions | undefined,
  io: CliIO,
): Promise<void> {
  const out = io.stdout ?? process.stdout;
  const err = io.stderr ?? process.stderr;
  const { name, labels, mode } = request;
  let plaintext: Buffer | undefined;
  try {
    const manifestPath = await manifestPathOf(values);
    const publicKeysArmored = await publicKeysOf(request.keyFiles, err);

    // Check the manifest can be edited before writing anything.
    const existing = await readFile(manifestPath, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return '';
      throw e;
    });
    const fileName = `${name}.${roOptions ? 'ro' : 'pgp'}`;
    const backend = roOptions ? ('redoctober' as const) : ('openpgp' as const);
    upsertManifestEntryText(existing, { name, file: fileName, labels, mode, backend });

    plaintext = values['in']
      ? await readFile(values['in'] as string)
      : await readAll(io.stdin ?? process.stdin, MAX_SECRET_BYTES);
    if (plaintext.length > MAX_SECRET_BYTES) throw new Error(`secret larger than ${MAX_SECRET_BYTES} bytes`);
    const size = plaintext.length;
    const ciphertext = roOptions
      ? await sealRo(roOptions, { name, labels, plaintext })
      : await sealOpenPgp({ name, labels, plaintext, publicKeysArmored });
    const ciphertextPath = path.join(path.dirname(manifestPath), fileName);
    await writeFileAtomic(ciphertextPath, ciphertext, 0o644);
    await upsertManifestEntry(manifestPath, { name, file: fileName, labels, mode, size, backend });
    out.write(
      `sealed ${name} (${size} bytes) for labels ${labels.join(', ')} → ${ciphertextPath}\nmanifest ${manifestPath} updated\n`,
    );
    // Say now what pald would refuse at its next load (an image's /etc/pal is checked where it runs).
    if (!values['image-manifest']) await warnUnsafe(manifestPath, ciphertextPath, err);
  } finally {
    plaintext?.fill(0);
  }
}

async function warnUnsafe(manifestPath: string, ciphertextPath: string, err: NodeJS.WritableStream): Promise<void> {
  for (const [file, kind] of [
    [manifestPath, 'manifest'],
    [ciphertextPath, 'ciphertext'],
  ] as const) {
    const problem = await fileSafetyProblem(file, { kind });
    if (problem) err.write(`pal seal: warning: pald will refuse this until it is fixed: ${problem}\n`);
  }
}

async function readAll(stream: NodeJS.ReadableStream, max: number): Promise<Buffer> {
  if ((stream as { isTTY?: boolean }).isTTY) throw new Error('no input: pass --in FILE or pipe the secret on stdin');
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string | Uint8Array);
    total += b.length;
    chunks.push(b);
    if (total > max) break;
  }
  const all = Buffer.concat(chunks);
  for (const c of chunks) c.fill(0);
  return all;
}
