// OpenPGP backend: host private keys from the keys dir, decrypt on demand.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import * as openpgp from 'openpgp';
import type { ManifestEntry } from '../store/index.js';
import { decodePayload, encodePayload } from './payload.js';
import { SecretError, type Backend, type OpenedSecret, type SecureAllocator } from './types.js';

export interface KeyProblem {
  readonly file: string;
  readonly message: string;
}

export interface OpenPgpBackendOptions {
  /** File holding the passphrase of passphrase-protected keys (trailing newline ignored). */
  readonly passphraseFile?: string;
  readonly allocSecure: SecureAllocator;
  readonly log?: (message: string) => void;
  /** Reload keys when files in the keys dir change (default false). */
  readonly watch?: boolean;
}

const ARMOR_PREFIX = Buffer.from('-----BEGIN PGP MESSAGE-----');

function isArmored(bytes: Uint8Array): boolean {
  // Skip leading whitespace an editor may have added.
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  return Buffer.from(bytes.buffer, bytes.byteOffset + i, Math.min(ARMOR_PREFIX.length, bytes.length - i)).equals(ARMOR_PREFIX);
}

export class OpenPgpBackend implements Backend {
  readonly name = 'openpgp' as const;
  private keys: openpgp.PrivateKey[] = [];
  private keyProblems: KeyProblem[] = [];
  private watcher: FSWatcher | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly keysDir: string,
    private readonly opts: OpenPgpBackendOptions,
  ) {}

  static async load(keysDir: string, opts: OpenPgpBackendOptions): Promise<OpenPgpBackend> {
    const backend = new OpenPgpBackend(path.resolve(keysDir), opts);
    await backend.reloadKeys();
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

  /** Re-reads *.key; a bad file is reported and skipped, the others load. */
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
    let passphrase: string | undefined;
    const problems: KeyProblem[] = [];
    if (this.opts.passphraseFile) {
      try {
        passphrase = (await readFile(this.opts.passphraseFile, 'utf8')).replace(/\r?\n$/, '');
      } catch (err) {
        problems.push({ file: this.opts.passphraseFile, message: `cannot read passphrase file: ${(err as Error).message}` });
      }
    }
    const keys: openpgp.PrivateKey[] = [];
    for (const n of names) {
      const file = path.join(this.keysDir, n);
      try {
        let key = await openpgp.readPrivateKey({ armoredKey: await readFile(file, 'utf8') });
        if (!key.isDecrypted()) {
          if (passphrase === undefined) throw new Error('key is passphrase-protected and no passphrase file is configured');
          key = await openpgp.decryptKey({ privateKey: key, passphrase });
        }
        keys.push(key);
      } catch (err) {
        problems.push({ file, message: (err as Error).message });
      }
    }
    for (const p of problems) this.log(`openpgp: ${p.file}: ${p.message}`);
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
    let message: openpgp.Message<Uint8Array | string>;
    try {
      message = isArmored(ciphertext)
        ? await openpgp.readMessage({ armoredMessage: Buffer.from(ciphertext).toString('utf8') })
        : await openpgp.readMessage({ binaryMessage: ciphertext });
    } catch (err) {
      throw new SecretError('corrupt', `${entry.name}: not a readable OpenPGP message: ${(err as Error).message}`);
    }
    const wanted = message.getEncryptionKeyIDs();
    if (wanted.length === 0) throw new SecretError('corrupt', `${entry.name}: not a public-key encrypted OpenPGP message`);
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
      const result = await openpgp.decrypt({ message, decryptionKeys: ours, format: 'binary' });
      data = result.data as Uint8Array;
    } catch (err) {
      // The message names our key, so a failure here is a damaged or forged ciphertext.
      throw new SecretError('corrupt', `${entry.name}: decryption failed: ${(err as Error).message}`);
    }
    try {
      const header = decodePayload(data);
      const plaintext = this.opts.allocSecure(data.subarray(header.valueOffset));
      return { plaintext, sealedName: header.name, sealedLabels: header.labels };
    } catch (err) {
      throw new SecretError('corrupt', `${entry.name}: ${(err as Error).message}`);
    } finally {
      // Best effort: openpgp.js keeps no reference to `data`, but intermediate
      // copies inside it are garbage we cannot reach (see docs/manifest.md).
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
    return await openpgp.encrypt({ message, encryptionKeys, format: 'binary' });
  } finally {
    payload.fill(0);
  }
}
