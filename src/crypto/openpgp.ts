// OpenPGP backend: host private keys from the keys dir, decrypt on demand.
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import * as openpgp from 'openpgp';
import {
  fileSafetyProblem,
  FileSafetyError,
  MAX_CIPHERTEXT_BYTES,
  readRegularFile,
  type ManifestEntry,
} from '../store/index.js';
import { encodePayload, MAX_HEADER_BYTES, openPayload } from './payload.js';
import { decodePalPayload } from './pal-payload.js';
import { SecretError, type Backend, type OpenedSecret, type SecureAllocator } from './types.js';

export interface KeyProblem {
  readonly file: string;
  readonly message: string;
  /** A File safety refusal (SPEC §3): fatal at start; at a reload the keys loaded before keep serving. */
  readonly safety?: true;
}

/** Default `limits.secret_bytes` (SPEC §3). */
export const DEFAULT_MAX_SECRET_BYTES = 16 * 1024 * 1024;
/** An armored private key is a few KiB; anything this big is not one. */
const MAX_KEY_FILE_BYTES = 1024 * 1024;

/**
 * The biggest ciphertext a secret of `secretBytes` can need: ASCII armor (4/3, plus line breaks)
 * of the payload header and value, plus generous room for packets of many recipients.
 */
export function maxCiphertextBytes(secretBytes: number): number {
  return Math.min(
    MAX_CIPHERTEXT_BYTES,
    Math.ceil((((secretBytes + MAX_HEADER_BYTES) * 4) / 3) * (65 / 64)) + 256 * 1024,
  );
}

export interface OpenPgpBackendOptions {
  /** File holding the passphrase of passphrase-protected keys (trailing newline ignored). */
  readonly passphraseFile?: string;
  readonly allocSecure: SecureAllocator;
  readonly log?: (message: string) => void;
  /** Reload keys when files in the keys dir change (default false). */
  readonly watch?: boolean;
  /**
   * `limits.secret_bytes`: the largest plaintext a secret may decrypt (and decompress) to.
   * A bigger one is corrupt (EIO for that secret), so a small compressed ciphertext cannot make
   * pald inflate it to gigabytes. Default 16 MiB.
   */
  readonly maxSecretBytes?: number;
}

const ARMOR_PREFIX = Buffer.from('-----BEGIN PGP MESSAGE-----');

function isArmored(bytes: Uint8Array): boolean {
  // Skip leading whitespace an editor may have added.
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  return Buffer.from(bytes.buffer, bytes.byteOffset + i, Math.min(ARMOR_PREFIX.length, bytes.length - i)).equals(
    ARMOR_PREFIX,
  );
}

/** Session-key packets one message may address to this host's keys (one per key pal seal wrote, with room). */
const MAX_SESSION_KEY_PACKETS_FOR_US = 4;

export class OpenPgpBackend implements Backend {
  readonly name = 'openpgp' as const;
  private keys: openpgp.PrivateKey[] = [];
  private keyProblems: KeyProblem[] = [];
  private watcher: FSWatcher | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;

  private readonly maxSecret: number;
  private readonly maxCiphertext: number;

  private constructor(
    readonly keysDir: string,
    private readonly opts: OpenPgpBackendOptions,
  ) {
    this.maxSecret = opts.maxSecretBytes ?? DEFAULT_MAX_SECRET_BYTES;
    this.maxCiphertext = maxCiphertextBytes(this.maxSecret);
  }

  static async load(keysDir: string, opts: OpenPgpBackendOptions): Promise<OpenPgpBackend> {
    const backend = new OpenPgpBackend(path.resolve(keysDir), opts);
    await backend.reloadKeys();
    // File safety (SPEC §3): at start an unsafe key file, passphrase file or keys dir is an error.
    const unsafe = backend.keyProblems.filter((p) => p.safety);
    if (unsafe.length > 0) throw new FileSafetyError(unsafe.map((p) => p.message).join('; '), unsafe[0]!.file);
    if (opts.watch) await backend.startWatching();
    return backend;
  }

  /** Primary key ids (16 hex) of the loaded host keys. */
  keyIds(): string[] {
    return this.keys.map((k) => k.getKeyID().toHex());
  }

  /** Key files that could not be used, with the reason (for `pal status`). */
  problems(): readonly KeyProblem[] {
    return this.keyProblems;
  }

  /**
   * Re-reads *.key; a bad file is reported and skipped, the others load. A File safety problem
   * (keys dir, key or passphrase file someone else could change or read) keeps the keys loaded
   * before, all of them, and is reported.
   */
  async reloadKeys(): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(this.keysDir)).filter((n) => n.endsWith('.key')).sort();
    } catch (err) {
      // Keep the keys we have: a transiently unreadable dir must not stop decryption.
      this.keyProblems = [{ file: this.keysDir, message: `cannot read keys dir: ${(err as Error).message}` }];
      this.log(`openpgp: ${this.keysDir}: cannot read keys dir: ${(err as Error).message}`);
      return;
    }
    const unsafe: KeyProblem[] = [];
    const safeDirs = new Set<string>();
    const check = async (file: string, kind: 'key directory' | 'private key' | 'passphrase'): Promise<boolean> => {
      // A private key is read without following a link (none is expected in the keys dir).
      const problem = await fileSafetyProblem(file, { kind, safeDirs, noFollow: kind === 'private key' });
      if (problem) unsafe.push({ file, message: problem, safety: true });
      return problem === undefined;
    };
    await check(this.keysDir, 'key directory');
    let passphrase: string | undefined;
    const problems: KeyProblem[] = [];
    const pf = this.opts.passphraseFile;
    if (pf) {
      const exists = await stat(pf).then(
        () => true,
        () => false,
      );
      if (!exists || (await check(pf, 'passphrase'))) {
        try {
          // A link to the passphrase (e.g. a credentials dir) is followed, as the check above did.
          passphrase = (await readRegularFile(await realpath(pf), MAX_KEY_FILE_BYTES)).bytes
            .toString('utf8')
            .replace(/\r?\n$/, '');
        } catch (err) {
          problems.push({ file: pf, message: `cannot read passphrase file: ${(err as Error).message}` });
        }
      }
    }
    const keys: openpgp.PrivateKey[] = [];
    for (const n of names) {
      const file = path.join(this.keysDir, n);
      if (!(await check(file, 'private key'))) continue;
      try {
        const armoredKey = (await readRegularFile(file, MAX_KEY_FILE_BYTES)).bytes.toString('utf8');
        let key = await openpgp.readPrivateKey({ armoredKey });
        if (!key.isDecrypted()) {
          if (passphrase === undefined)
            throw new Error('key is passphrase-protected and no passphrase file is configured');
          key = await openpgp.decryptKey({ privateKey: key, passphrase });
        }
        keys.push(key);
      } catch (err) {
        problems.push({ file, message: (err as Error).message });
      }
    }
    for (const p of [...unsafe, ...problems]) this.log(`openpgp: ${p.file}: ${p.message}`);
    if (unsafe.length > 0) {
      // Someone other than root may have placed or changed a key: keep the last good key set.
      if (this.keys.length > 0)
        this.log(`openpgp: keys dir fails File safety: keeping the ${this.keys.length} keys loaded before`);
      this.keyProblems = [...unsafe, ...problems];
      return;
    }
    this.keys = keys;
    this.keyProblems = problems;
  }

  async close(): Promise<void> {
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    const w = this.watcher;
    this.watcher = undefined;
    if (w) await w.close();
  }

  async decrypt(entry: ManifestEntry, ciphertext: Uint8Array): Promise<OpenedSecret> {
    if (ciphertext.length > this.maxCiphertext) {
      throw new SecretError(
        'corrupt',
        `${entry.name}: ciphertext of ${ciphertext.length} bytes is larger than a secret of limits.secret_bytes (${this.maxSecret}) needs`,
      );
    }
    let message: openpgp.Message<Uint8Array | string>;
    try {
      message = isArmored(ciphertext)
        ? await openpgp.readMessage({ armoredMessage: Buffer.from(ciphertext).toString('utf8') })
        : await openpgp.readMessage({ binaryMessage: ciphertext });
    } catch (err) {
      throw new SecretError('corrupt', `${entry.name}: not a readable OpenPGP message: ${(err as Error).message}`);
    }
    const wanted = message.getEncryptionKeyIDs();
    if (wanted.length === 0)
      throw new SecretError('corrupt', `${entry.name}: not a public-key encrypted OpenPGP message`);
    // Each session-key packet that names (or wildcards) one of our keys costs a private-key
    // operation on pald's thread: a ciphertext repeating it thousands of times costs seconds.
    // pal seal writes one per recipient; more than a few naming this host is forged.
    const naming = wanted.filter((id) =>
      this.keys.some((k) => k.getKeyIDs().some((kid) => kid.equals(id, true))),
    ).length;
    if (naming > MAX_SESSION_KEY_PACKETS_FOR_US) {
      throw new SecretError(
        'corrupt',
        `${entry.name}: ${naming} session key packets name this host's keys (at most ${MAX_SESSION_KEY_PACKETS_FOR_US})`,
      );
    }
    const ours = this.keys.filter((k) => wanted.some((id) => k.getKeyIDs().some((kid) => kid.equals(id, true))));
    if (ours.length === 0) {
      const loaded = this.keyIds();
      throw new SecretError(
        'unavailable',
        `${entry.name}: no host key can decrypt it (sealed for ${wanted.map((id) => id.toHex()).join(', ') || 'no key'}; loaded: ${loaded.join(', ') || 'none'})`,
      );
    }
    let data: Uint8Array;
    try {
      // The payload is the pal header line plus the value: bound what decompression may produce.
      // (A PAL payload is JSON holding the value in base64, twice over for +base64.)
      const payloadMax = entry.palFormat ? Math.ceil((this.maxSecret * 4) / 3) * 2 + 8192 : this.maxSecret;
      const config = { maxDecompressedMessageSize: payloadMax + MAX_HEADER_BYTES + 1024 };
      const result = await openpgp.decrypt({ message, decryptionKeys: ours, format: 'binary', config });
      data = result.data as Uint8Array;
    } catch (err) {
      // The message names our key, so a failure here is a damaged or forged ciphertext.
      throw new SecretError('corrupt', `${entry.name}: decryption failed: ${(err as Error).message}`);
    }
    if (entry.palFormat) return this.openPalPayload(entry, data);
    return openPayload(entry.name, data, this.maxSecret, this.opts.allocSecure);
  }

  /** A Cloudflare PAL payload: its labels are the sealed ones; it names no secret, so it takes the entry's name. */
  private openPalPayload(entry: ManifestEntry, data: Uint8Array): OpenedSecret {
    try {
      const payload = decodePalPayload(data, entry.palFormat?.base64 ?? false, this.maxSecret);
      return { plaintext: this.opts.allocSecure(payload.value), sealedName: entry.name, sealedLabels: payload.labels };
    } catch (err) {
      throw new SecretError('corrupt', `${entry.name}: ${(err as Error).message}`);
    } finally {
      data.fill(0);
    }
  }

  private log(message: string): void {
    this.opts.log?.(message);
  }

  private async startWatching(): Promise<void> {
    const watcher = watch(this.keysDir, { ignoreInitial: true, depth: 0, atomic: true });
    this.watcher = watcher;
    const onEvent = (file: string): void => {
      if (!file.endsWith('.key') && file !== this.opts.passphraseFile) return;
      if (this.reloadTimer) clearTimeout(this.reloadTimer);
      this.reloadTimer = setTimeout(() => {
        this.reloadTimer = undefined;
        void this.reloadKeys().then(() => this.log(`openpgp: keys reloaded (${this.keys.length} loaded)`));
      }, 100);
    };
    watcher.on('add', onEvent).on('change', onEvent).on('unlink', onEvent);
    watcher.on('error', (err) => this.log(`openpgp: watcher error: ${(err as Error).message}`));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  }
}

/** Encrypts name + labels + value to the given public keys; returns binary OpenPGP. */
export async function sealOpenPgp(args: {
  name: string;
  labels: readonly string[];
  plaintext: Uint8Array;
  publicKeysArmored: string[];
}): Promise<Uint8Array> {
  if (args.publicKeysArmored.length === 0) throw new Error('at least one public key is required');
  const encryptionKeys = await Promise.all(
    args.publicKeysArmored.map(async (armoredKey) => (await openpgp.readKey({ armoredKey })).toPublic()),
  );
  const payload = encodePayload({ name: args.name, labels: args.labels }, args.plaintext);
  try {
    const message = await openpgp.createMessage({ binary: payload, format: 'binary' });
    // A binary message in, format 'binary': openpgp's overload says Uint8Array, through stream types we don't install.
    return (await openpgp.encrypt({ message, encryptionKeys, format: 'binary' })) as Uint8Array;
  } finally {
    payload.fill(0);
  }
}
