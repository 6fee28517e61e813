// Red October backend: a secret sealed for M of N owners, decrypted by the server as this host's
// machine account while enough owners have delegated to it (for its user name and the secret's
// label). pald only ever calls /decrypt (never /summary: it hands delegated private keys to any
// logged-in account). Each /decrypt takes one use from each delegation it relies on.
import { realpath } from 'node:fs/promises';
import { FileSafetyError, fileSafetyProblem, readRegularFile, type ManifestEntry } from '../../store/index.js';
import { MAX_HEADER_BYTES, openPayload } from '../payload.js';
import { decodePalRoValue } from '../pal-payload.js';
import { SecretError, type Backend, type OpenedSecret, type SealedHeader, type SecureAllocator } from '../types.js';
import { RoClient } from './client.js';
import { ciphertextText, parseEnvelope, type RoEnvelope } from './envelope.js';
import { decryptedData, decryptFailure } from './replies.js';

const DEFAULT_MAX_SECRET_BYTES = 16 * 1024 * 1024;
const MAX_PASSWORD_FILE_BYTES = 4096;
const MAX_CA_FILE_BYTES = 1024 * 1024;

export interface RedOctoberBackendOptions {
  readonly server: string;
  /** PEM file of the CA that signed the server's certificate (pinned). */
  readonly caFile: string;
  /** The host's machine account. */
  readonly user: string;
  /** Its password (0600, root's); re-read at every decrypt, so a rotation needs no restart. */
  readonly passwordFile: string;
  readonly allocSecure: SecureAllocator;
  /** `limits.secret_bytes` (default 16 MiB). */
  readonly maxSecretBytes?: number;
  readonly timeoutMs?: number;
  readonly retryDelayMs?: number;
}

/** The last /decrypt of one secret, for `pal status` (metadata only). */
export interface RoOutcome {
  readonly outcome: 'ok' | 'denied' | 'error';
  readonly at: string;
  readonly reason: string;
}

export interface RoStatus {
  readonly server: string;
  readonly user: string;
  /** Whether the last call reached the server (undefined: no call yet). */
  readonly reachable?: boolean;
  readonly lastError?: string;
  readonly secrets: Record<string, RoOutcome>;
}

/** Fixed-size overhead of the pal payload inside the Red October data, base64 twice. */
export function maxRoCiphertextBytes(secretBytes: number): number {
  return Math.ceil(((secretBytes + MAX_HEADER_BYTES) * 16) / 9) + 1024 * 1024;
}

export class RedOctoberBackend implements Backend {
  readonly name = 'redoctober' as const;
  private readonly maxSecret: number;
  private readonly outcomes = new Map<string, RoOutcome>();
  private reachable: boolean | undefined;
  private lastError: string | undefined;

  private constructor(
    private readonly opts: RedOctoberBackendOptions,
    private readonly client: RoClient,
  ) {
    this.maxSecret = opts.maxSecretBytes ?? DEFAULT_MAX_SECRET_BYTES;
  }

  /** Checks File safety of the CA and password files (FileSafetyError) and reads the CA. */
  static async load(opts: RedOctoberBackendOptions): Promise<RedOctoberBackend> {
    for (const [file, kind] of [
      [opts.caFile, 'trust store'],
      [opts.passwordFile, 'passphrase'],
    ] as const) {
      const problem = await fileSafetyProblem(file, { kind });
      if (problem) throw new FileSafetyError(problem, file);
    }
    const ca = (await readRegularFile(await realpath(opts.caFile), MAX_CA_FILE_BYTES)).bytes;
    const maxSecret = opts.maxSecretBytes ?? DEFAULT_MAX_SECRET_BYTES;
    const client = new RoClient({
      server: opts.server,
      ca,
      maxResponseBytes: maxRoCiphertextBytes(maxSecret),
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
      ...(opts.retryDelayMs === undefined ? {} : { retryDelayMs: opts.retryDelayMs }),
    });
    return new RedOctoberBackend(opts, client);
  }

  status(): RoStatus {
    return {
      server: this.client.server,
      user: this.opts.user,
      ...(this.reachable === undefined ? {} : { reachable: this.reachable }),
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      secrets: Object.fromEntries(this.outcomes),
    };
  }

  sealedBeforeDecrypt(entry: ManifestEntry, ciphertext: Uint8Array): SealedHeader {
    const env = this.envelope(entry, ciphertext);
    return { sealedName: env.sealedName, sealedLabels: env.sealedLabels };
  }

  async decrypt(entry: ManifestEntry, ciphertext: Uint8Array): Promise<OpenedSecret> {
    try {
      const opened = await this.decryptOnce(entry, ciphertext);
      this.note(entry.name, 'ok', `decrypted (sealed for ${opened.sealedLabels.join(', ')})`);
      return opened;
    } catch (err) {
      const e =
        err instanceof SecretError ? err : new SecretError('unavailable', `${entry.name}: ${(err as Error).message}`);
      this.note(entry.name, e.code === 'denied-by-backend' ? 'denied' : 'error', e.message);
      throw e;
    }
  }

  private async decryptOnce(entry: ManifestEntry, ciphertext: Uint8Array): Promise<OpenedSecret> {
    const env = this.envelope(entry, ciphertext);
    const password = await this.password(entry.name);
    let reply;
    try {
      reply = await this.client.call('/decrypt', {
        Name: this.opts.user,
        Password: password,
        Data: ciphertextText(ciphertext),
      });
      this.reachable = true;
      this.lastError = undefined;
    } catch (err) {
      const message = (err as Error).message;
      this.reachable = false; // no usable reply, whether or not the request got there
      this.lastError = message;
      throw new SecretError('unavailable', `${entry.name}: Red October ${this.client.server}: ${message}`);
    }
    if (reply.status !== 'ok') throw decryptFailure(entry.name, reply.status, env, this.opts.user);
    const { data } = decryptedData(entry.name, reply);
    if (entry.palFormat) return this.openPalValue(entry, env, data);
    return openPayload(entry.name, data, this.maxSecret, this.opts.allocSecure, (header) => {
      // The clear labels were what pald authorised with; the sealed payload must say the same.
      if (header.name !== env.sealedName || !sameLabels(header.labels, env.sealedLabels))
        throw new Error('the sealed payload does not match the ciphertext labels');
    });
  }

  /**
   * A Cloudflare PAL ro: value: the plaintext is the value itself. Its sealed labels are Red
   * October's clear ones, which policy authorised before /decrypt: they are authenticated, since
   * the server checks the vault's HMAC over the ciphertext (labels included) before decrypting
   * and releases it only under delegations that cover them. It names no secret (PAL bound none).
   */
  private openPalValue(entry: ManifestEntry, env: RoEnvelope, data: Buffer): OpenedSecret {
    try {
      const value = decodePalRoValue(data, entry.palFormat?.base64 ?? false, this.maxSecret);
      return { plaintext: this.opts.allocSecure(value), sealedName: entry.name, sealedLabels: env.sealedLabels };
    } catch (err) {
      throw new SecretError('corrupt', `${entry.name}: ${(err as Error).message}`);
    } finally {
      data.fill(0);
    }
  }

  private envelope(entry: ManifestEntry, ciphertext: Uint8Array): RoEnvelope {
    if (ciphertext.length > maxRoCiphertextBytes(this.maxSecret))
      throw new SecretError('corrupt', `${entry.name}: ciphertext of ${ciphertext.length} bytes is too large`);
    try {
      return parseEnvelope(ciphertext, entry.palFormat ? entry.name : undefined);
    } catch (err) {
      const what = entry.palFormat ? 'a PAL' : 'a pal';
      throw new SecretError('corrupt', `${entry.name}: not ${what} Red October ciphertext: ${(err as Error).message}`);
    }
  }

  private async password(name: string): Promise<string> {
    const file = this.opts.passwordFile;
    const problem = await fileSafetyProblem(file, { kind: 'passphrase' });
    if (problem) throw new SecretError('unavailable', `${name}: ${problem}`);
    try {
      const bytes = (await readRegularFile(await realpath(file), MAX_PASSWORD_FILE_BYTES)).bytes;
      const text = bytes.toString('utf8').replace(/\r?\n$/, '');
      bytes.fill(0);
      return text;
    } catch (err) {
      throw new SecretError('unavailable', `${name}: cannot read redoctober.password_file: ${(err as Error).message}`);
    }
  }

  private note(name: string, outcome: RoOutcome['outcome'], reason: string): void {
    this.outcomes.set(name, { outcome, at: new Date().toISOString(), reason });
  }
}

function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  const sa = [...new Set(a)].sort();
  return sa.length === b.length && sa.every((l, i) => l === b[i]);
}

/** Reads a CA bundle for `pal seal --ro` (no File safety: the CLI runs as an operator). */
export async function readCa(file: string): Promise<Buffer> {
  return (await readRegularFile(await realpath(file), MAX_CA_FILE_BYTES)).bytes;
}
