// Plaintext cache: decrypt once per (secret, ciphertext version), concurrent
// callers share one decryption, bounded by TTL and total bytes. Evicting lets go of
// the cache's reference to the plaintext: the memory is wiped then, unless open
// file handles hold shares of it (they keep reading it; the last one wipes it).
import { createHash } from 'node:crypto';
import type { BackendName, ManifestEntry } from '../store/index.js';
import { fileSafetyProblem, MAX_CIPHERTEXT_BYTES, readRegularFile } from '../store/index.js';
import type { SecureBuffer } from '../native/types.js';
import { SecretError, type Backend, type OpenedSecret, type SealedHeader } from './types.js';

/**
 * Called with what a ciphertext says about itself in clear, before it is decrypted; throws (a
 * SecretError 'denied-before-decrypt') to refuse the caller. `version` is the ciphertext's sha256.
 */
const MAX_MIS_SIZED_REPORTS = 1024;

export type AuthoriseSealed = (header: SealedHeader, version: string) => void;

export interface SecretCacheOptions {
  readonly ttlMs: number;
  readonly maxBytes: number;
  readonly now?: () => number;
  /** Sweep expired entries this often, ms (default min(ttl, 30 s); 0 disables the timer). */
  readonly sweepIntervalMs?: number;
  /**
   * Bytes the cache may hold right now, asked at each insertion (default: maxBytes). pald passes
   * what `limits.locked_bytes` leaves after the copies open handles pin (HandleLedger.cacheBudget).
   */
  readonly budget?: () => number;
  /**
   * Told when a decrypt's plaintext length differs from the manifest's `size:` (metadata only:
   * name and both lengths, never content). The decrypted length is what pald serves from then on,
   * but a reader that used the stated size before (sendfile/splice readers, busybox `cat`) may have
   * been cut short, so the operator should mend the entry (`pal seal` writes the right size).
   */
  readonly onSizeMismatch?: (name: string, stated: number, decrypted: number) => void;
}

export interface SecretCacheStats {
  readonly entries: number;
  readonly bytes: number;
  readonly hits: number;
  readonly misses: number;
  readonly decrypts: number;
  readonly evictions: number;
}

interface Slot {
  readonly name: string;
  readonly version: string;
  readonly secret: OpenedSecret;
  readonly bytes: number;
  readonly expiresAt: number;
}

export class SecretCache {
  /** By secret name; Map order is least recently used first. */
  private readonly slots = new Map<string, Slot>();
  private readonly inflight = new Map<string, Promise<OpenedSecret>>();
  /** The plaintext buffers held by slots, for holds(). */
  private readonly held = new Set<SecureBuffer>();
  private bytes = 0;
  private lockedBytes = 0;
  private counters = { hits: 0, misses: 0, decrypts: 0, evictions: 0 };
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout | undefined;
  /** (name, version) pairs already reported as mis-sized: once each, not at every uncached decrypt. */
  private readonly misSized = new Set<string>();
  private closed = false;

  constructor(
    private readonly backends: { openpgp?: Backend; redoctober?: Backend },
    private readonly opts: SecretCacheOptions,
  ) {
    this.now = opts.now ?? Date.now;
    const interval = opts.sweepIntervalMs ?? Math.min(Math.max(opts.ttlMs, 1000), 30_000);
    if (interval > 0) {
      this.timer = setInterval(() => this.sweep(), interval);
      this.timer.unref();
    }
  }

  /**
   * Decrypts (once for concurrent callers) or returns the cached secret.
   * The returned plaintext stays owned by the cache: share() it before the
   * next await (an evicted buffer is let go of on the next macrotask), or use checkout().
   */
  get(entry: ManifestEntry, authorise?: AuthoriseSealed): Promise<OpenedSecret> {
    if (this.closed) return Promise.reject(new SecretError('unavailable', 'secret cache is closed'));
    const slot = this.slots.get(entry.name);
    if (slot) {
      if (slot.version === entry.version && this.now() < slot.expiresAt) {
        // Refresh LRU position.
        this.slots.delete(entry.name);
        this.slots.set(entry.name, slot);
        this.counters.hits++;
        return Promise.resolve(slot.secret);
      }
      this.evict(slot);
    }
    this.counters.misses++;
    const backend = this.backends[entry.backend];
    if (backend?.sealedBeforeDecrypt) return this.authorisedMiss(entry, backend, authorise);
    const key = `${entry.name}\0${entry.version}`;
    let flight = this.inflight.get(key);
    if (!flight) {
      flight = this.load(entry).finally(() => this.inflight.delete(key));
      this.inflight.set(key, flight);
    }
    return flight;
  }

  /**
   * A miss for a backend whose ciphertext names its labels in clear (Red October): each caller
   * reads the ciphertext, and `authorise` sees its sealed name and labels before anything is
   * decrypted, so a caller who may not have it never spends a delegation use. The very bytes
   * checked are the ones decrypted (no swap in between); concurrent authorised callers share one
   * decrypt.
   */
  private async authorisedMiss(
    entry: ManifestEntry,
    backend: Backend,
    authorise?: AuthoriseSealed,
  ): Promise<OpenedSecret> {
    const { ciphertext, version } = await this.readCiphertext(entry);
    const header = backend.sealedBeforeDecrypt!(entry, ciphertext);
    if (header.sealedName !== entry.name)
      throw new SecretError(
        'name-mismatch',
        `${entry.name}: the ciphertext was sealed for "${header.sealedName}", not "${entry.name}"`,
      );
    // Deny by default: a decrypt nobody authorised would spend the owners' delegation uses.
    if (!authorise) throw new SecretError('denied-before-decrypt', `${entry.name}: no caller to authorise`);
    authorise(header, version);
    const key = `${entry.name}\0${version}`;
    let flight = this.inflight.get(key);
    if (!flight) {
      flight = this.decryptAndKeep(entry, backend, ciphertext, version).finally(() => this.inflight.delete(key));
      this.inflight.set(key, flight);
    }
    return flight;
  }

  /**
   * The cached secret of this very version, if a decrypt put it here and it has not expired; never
   * decrypts, never reads a ciphertext, and counts no hit (nothing was opened yet: view-state.ts
   * openAhead). Owned by the cache, as get()'s answer.
   */
  peek(entry: ManifestEntry): OpenedSecret | undefined {
    return this.freshSlot(entry)?.secret;
  }

  /**
   * How much longer (ms) the cache holds this very version's plaintext: a lease that shares it must
   * not outlast it (view-state.ts sponsor); undefined when it is not cached.
   */
  cachedForMs(entry: ManifestEntry): number | undefined {
    const slot = this.freshSlot(entry);
    return slot && slot.expiresAt - this.now();
  }

  /** The slot of this very version while it has not expired (peek, cachedForMs: no LRU move, no hit). */
  private freshSlot(entry: ManifestEntry): Slot | undefined {
    if (this.closed) return undefined;
    const slot = this.slots.get(entry.name);
    return slot && slot.version === entry.version && this.now() < slot.expiresAt ? slot : undefined;
  }

  /** Like get(), but returns a share the caller owns (and must wipe or hand to the addon): no copy. */
  async checkout(entry: ManifestEntry, authorise?: AuthoriseSealed): Promise<OpenedSecret> {
    const s = await this.get(entry, authorise);
    return { plaintext: s.plaintext.share(), sealedName: s.sealedName, sealedLabels: s.sealedLabels };
  }

  /** Whether a slot holds this very buffer (what get() returned), i.e. the cache keeps it alive. */
  holds(plaintext: SecureBuffer): boolean {
    return this.held.has(plaintext);
  }

  /** Locked bytes the cache holds now (whole pages per plaintext, as the memory is locked). */
  cachedBytes(): number {
    return this.lockedBytes;
  }

  /** Drops (and wipes) one secret, or all of them. */
  invalidate(name?: string): void {
    if (name === undefined) {
      for (const slot of [...this.slots.values()]) this.evict(slot);
      return;
    }
    const slot = this.slots.get(name);
    if (slot) this.evict(slot);
  }

  /** Evicts expired entries; returns how many. */
  sweep(): number {
    const now = this.now();
    let n = 0;
    for (const slot of [...this.slots.values()]) {
      if (now >= slot.expiresAt) {
        this.evict(slot);
        n++;
      }
    }
    return n;
  }

  stats(): SecretCacheStats {
    return { entries: this.slots.size, bytes: this.bytes, ...this.counters };
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const slot of [...this.slots.values()]) this.evict(slot, true);
  }

  private backendFor(name: BackendName): Backend {
    const b = this.backends[name];
    if (!b) throw new SecretError('unavailable', `the ${name} backend is not configured`);
    return b;
  }

  private async load(entry: ManifestEntry): Promise<OpenedSecret> {
    const backend = this.backendFor(entry.backend);
    const { ciphertext, version } = await this.readCiphertext(entry);
    return this.decryptAndKeep(entry, backend, ciphertext, version);
  }

  private async readCiphertext(entry: ManifestEntry): Promise<{ ciphertext: Buffer; version: string }> {
    // An image-carried entry's path is inside the image: its bytes came through the runtime's API
    // with the entry, and nothing is ever read from a host path for it.
    if (entry.image !== undefined) {
      if (entry.ciphertext === undefined) throw new SecretError('unavailable', `${entry.name}: no image ciphertext`);
      return { ciphertext: entry.ciphertext, version: entry.version };
    }
    let ciphertext: Buffer;
    try {
      // Never blocks on a FIFO or follows a link swapped in since the manifest was loaded.
      ciphertext = (await readRegularFile(entry.ciphertextPath, MAX_CIPHERTEXT_BYTES)).bytes;
    } catch (err) {
      const m = (err as Error).message;
      if (m.startsWith('larger than')) throw new SecretError('corrupt', `${entry.name}: ciphertext too large`);
      throw new SecretError('unavailable', `${entry.name}: cannot read ciphertext: ${m}`);
    }
    // The file may have been rotated since the manifest was loaded: key the
    // cache by what was actually decrypted.
    const version = createHash('sha256').update(ciphertext).digest('hex');
    if (version !== entry.version) {
      // Not the bytes the last good manifest load checked: decrypt them only if File safety
      // (SPEC §3) still holds, i.e. only root or pald's uid can have written them.
      const unsafe = await fileSafetyProblem(entry.ciphertextPath, { kind: 'ciphertext' });
      if (unsafe) throw new SecretError('corrupt', `${entry.name}: ${unsafe}`);
    }
    return { ciphertext, version };
  }

  private async decryptAndKeep(
    entry: ManifestEntry,
    backend: Backend,
    ciphertext: Buffer,
    version: string,
  ): Promise<OpenedSecret> {
    this.counters.decrypts++;
    let secret: OpenedSecret;
    try {
      secret = await backend.decrypt(entry, ciphertext);
    } catch (err) {
      if (err instanceof SecretError) throw err;
      throw new SecretError('unavailable', `${entry.name}: ${backend.name} backend failed: ${(err as Error).message}`);
    }
    if (secret.sealedName !== entry.name) {
      secret.plaintext.wipe();
      throw new SecretError(
        'name-mismatch',
        `${entry.name}: the ciphertext was sealed for "${secret.sealedName}", not "${entry.name}"`,
      );
    }
    this.checkStatedSize(entry, version, secret.plaintext.length);
    if (this.closed) {
      secret.plaintext.wipe();
      throw new SecretError('unavailable', 'secret cache is closed');
    }
    const bytes = secret.plaintext.length;
    const locked = pagesOf(bytes);
    const budget = (): number => Math.min(this.opts.budget?.() ?? Infinity, Number.MAX_SAFE_INTEGER);
    const uncached = (): OpenedSecret => {
      // Serve this one caller (who may share() it), then let go.
      setImmediate(() => secret.plaintext.wipe());
      return secret;
    };
    const room = budget(); // asked once: it walks the pins
    // Per secret (manifest `cache:`), else pald's: 0 decrypts at every open (Red October: one use each).
    const ttlMs = entry.cacheTtlMs ?? this.opts.ttlMs;
    if (ttlMs <= 0 || bytes > this.opts.maxBytes || locked > room) return uncached();
    const existing = this.slots.get(entry.name);
    if (existing) this.evict(existing);
    for (const slot of this.slots.values()) {
      if (this.bytes + bytes <= this.opts.maxBytes && this.lockedBytes + locked <= room) break;
      this.evict(slot);
    }
    // Pinned copies can leave no room even with the cache empty (evicting them frees nothing).
    if (this.lockedBytes + locked > budget()) return uncached();
    this.slots.set(entry.name, { name: entry.name, version, secret, bytes, expiresAt: this.now() + ttlMs });
    this.held.add(secret.plaintext);
    this.bytes += bytes;
    this.lockedBytes += locked;
    return secret;
  }

  private checkStatedSize(entry: ManifestEntry, version: string, decrypted: number): void {
    const stated = entry.size;
    const key = `${entry.name}\0${version}`;
    if (stated === undefined || stated === decrypted || this.misSized.has(key)) return;
    if (this.misSized.size >= MAX_MIS_SIZED_REPORTS) this.misSized.clear();
    this.misSized.add(key);
    this.opts.onSizeMismatch?.(entry.name, stated, decrypted);
  }

  private evict(slot: Slot, immediately = false): void {
    if (this.slots.get(slot.name) !== slot) return;
    this.slots.delete(slot.name);
    this.held.delete(slot.secret.plaintext);
    this.bytes -= slot.bytes;
    this.lockedBytes -= pagesOf(slot.bytes);
    this.counters.evictions++;
    // A caller that got this buffer from a promise resolved in this tick may
    // still be about to share it: let go after the current microtasks. Handles
    // that hold shares keep reading it; the last holder wipes it.
    if (immediately) slot.secret.plaintext.wipe();
    else setImmediate(() => slot.secret.plaintext.wipe());
  }
}

/** Locked memory a plaintext takes: whole pages, at least one (as the addon allocates it). */
function pagesOf(length: number): number {
  return Math.max(1, Math.ceil(length / 4096)) * 4096;
}
