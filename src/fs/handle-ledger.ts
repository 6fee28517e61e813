// What open file handles make pald hold, per owner (a container, the host, or unknown callers),
// and the limits on it (SPEC §3 `limits`, §4).
//
// Every handle of one secret version reads one locked copy: the ledger keeps one "pin" per
// (secret, version) with open handles, a share() of the plaintext the cache returned, and hands
// each handle another share() of it. The copy is freed when the cache has evicted it and the
// last handle is released (the addon's reference count), so a container cannot multiply locked
// memory by opening one secret many times.
//
// The rules:
// * Handles: an owner may hold `openHandlesPerContainer` handles (secrets and .pal/ files
//   together); the next open gets ENFILE. Each container counts apart; all host callers are one
//   owner, all unidentified callers another.
// * Locked bytes, all owners together: the cache and the pinned copies it no longer holds never
//   exceed `lockedBytes` (a copy is counted once, however many handles and owners share it). An
//   open that needs a copy the cache does not hold, beyond that, gets ENOMEM; the cache gives way
//   to pinned copies (its budget is what the pins leave, cacheBudget()).
// * Locked bytes, per owner: an owner's handles may pin at most half of `lockedBytes` (at least
//   `secretBytes`, so the largest secret can always be opened) — counted over the distinct copies
//   it holds handles on, shared or not. Beyond it, ENOMEM for that owner; the other half stays for
//   everybody else. One container holding handles on many distinct secrets, or on every old
//   version across rotations, therefore cannot take the memory the others read from.

import { Errno, FuseError, type SecureBuffer } from '../native/index.js';

const { ENFILE, ENOMEM } = Errno;
const PAGE = 4096;

export interface HandleLimits {
  readonly openHandlesPerContainer: number;
  readonly lockedBytes: number;
  readonly secretBytes: number;
}

/** SPEC §3 defaults. */
export const DEFAULT_HANDLE_LIMITS: HandleLimits = {
  openHandlesPerContainer: 1024,
  lockedBytes: 64 * 1024 * 1024,
  secretBytes: 16 * 1024 * 1024,
};

/** What the plaintext cache holds, as far as the ledger needs to know. */
export interface CachedPlaintext {
  /** Locked bytes the cache holds now. */
  cachedBytes(): number;
  /** Whether the cache holds this very buffer (the one its get() returned). */
  holds(plaintext: SecureBuffer): boolean;
}

export interface LedgerStats {
  /** Handles callers hold open (numbers booked for the warm path and not opened yet are not). */
  readonly openHandles: number;
  /** Cache plus the pinned copies the cache no longer holds: what `limits.locked_bytes` bounds. */
  readonly lockedBytes: number;
  /** Distinct copies open handles read (in the cache or not). */
  readonly pinnedCopies: number;
  readonly owners: number;
}

/** Locked memory a plaintext of `length` bytes takes: whole pages, at least one. */
export function lockedSize(length: number): number {
  return Math.max(1, Math.ceil(length / PAGE)) * PAGE;
}

interface Pin {
  /** The ledger's own holder of the copy; handles get shares of it. */
  readonly holder: SecureBuffer;
  /** The buffer the cache returned, to ask the cache whether it still holds the copy. */
  readonly source: SecureBuffer;
  readonly bytes: number;
  handles: number;
}

interface Owner {
  handles: number;
  bytes: number;
  /** Pin key → this owner's handles on it. */
  readonly pins: Map<string, number>;
}

export class HandleLedger {
  private readonly pins = new Map<string, Pin>();
  private readonly owners = new Map<string, Owner>();
  private readonly byFh = new Map<number, { owner: string; pin?: string }>();
  /** Numbers booked for the warm path (reserveSecret) that no open holds now. */
  private readonly reserved = new Set<number>();

  constructor(
    private readonly limits: () => HandleLimits,
    private readonly cache: CachedPlaintext = { cachedBytes: () => 0, holds: () => false },
  ) {}

  /** `limits.secret_bytes` now: no secret decrypts to more (the size shown before a first decrypt). */
  secretBytesLimit(): number {
    return this.limits().secretBytes;
  }

  /** A handle on a non-secret file (.pal/): counts against the owner's handles only. */
  openPlain(owner: string, fh: number): void {
    this.admitHandle(owner);
    this.ownerRecord(owner).handles++;
    this.byFh.set(fh, { owner });
  }

  /**
   * A handle on a secret version; returns what to give the addon as the handle's content (a
   * share of the one pinned copy). `plaintext` stays the caller's (the cache's) to manage.
   * Throws FuseError ENFILE / ENOMEM when a limit says no.
   */
  openSecret(owner: string, fh: number, key: string, plaintext: SecureBuffer): SecureBuffer {
    const pin = this.admitSecret(owner, key, plaintext);
    let content: SecureBuffer;
    try {
      content = pin.holder.share();
    } catch (err) {
      if (pin.handles === 0) this.dropPin(key, pin);
      throw err;
    }
    this.book(owner, fh, key, pin);
    return content;
  }

  /**
   * Books handle `fh` on a secret version in advance, exactly as openSecret() counts it, for the
   * addon to open later without asking JS (warm path leases, open-leases.ts). Same limits.
   */
  reserveSecret(owner: string, fh: number, key: string, plaintext: SecureBuffer): void {
    this.book(owner, fh, key, this.admitSecret(owner, key, plaintext));
    this.reserved.add(fh);
  }

  /**
   * A booked number is open (true: the addon answered an open with it) or back in its lease unopened
   * (false). Both count against the limits alike; only `openHandles` tells them apart.
   */
  markOpen(fh: number, open: boolean): void {
    if (!this.byFh.has(fh)) return;
    if (open) this.reserved.delete(fh);
    else this.reserved.add(fh);
  }

  /** Another reference to the pinned copy of `key` (which must have handles), for the addon. */
  shareOf(key: string): SecureBuffer | undefined {
    const pin = this.pins.get(key);
    return pin?.holder.alive ? pin.holder.share() : undefined;
  }

  /** How many more handles `owner` may open now. */
  headroom(owner: string): number {
    return Math.max(0, this.limits().openHandlesPerContainer - (this.owners.get(owner)?.handles ?? 0));
  }

  /** The limits' checks for one more handle of `owner` on `key`; the pin (created if needed). */
  private admitSecret(owner: string, key: string, plaintext: SecureBuffer): Pin {
    this.admitHandle(owner);
    const limits = this.limits();
    let pin = this.pins.get(key);
    if (pin && !pin.holder.alive) {
      this.pins.delete(key); // cannot happen while handles hold it; never serve a dead copy
      pin = undefined;
    }
    const bytes = pin?.bytes ?? lockedSize(plaintext.length);
    const o = this.owners.get(owner);
    const ownerAdds = o?.pins.has(key) ? 0 : bytes;
    const ownerShare = Math.max(Math.floor(limits.lockedBytes / 2), limits.secretBytes);
    if (ownerAdds > 0 && (o?.bytes ?? 0) + ownerAdds > ownerShare) {
      throw new FuseError(
        ENOMEM,
        `limits.locked_bytes: this caller's open handles may pin at most ${ownerShare} bytes of plaintext`,
      );
    }
    if (!pin) {
      const added = this.cache.holds(plaintext) ? 0 : bytes;
      if (added > 0 && this.lockedBytes() + added > limits.lockedBytes) {
        throw new FuseError(ENOMEM, `limits.locked_bytes: pald holds ${limits.lockedBytes} bytes of plaintext at most`);
      }
      pin = { holder: plaintext.share(), source: plaintext, bytes, handles: 0 };
      this.pins.set(key, pin);
    }
    return pin;
  }

  private book(owner: string, fh: number, key: string, pin: Pin): void {
    const bytes = pin.bytes;
    pin.handles++;
    const rec = this.ownerRecord(owner);
    rec.handles++;
    const mine = rec.pins.get(key) ?? 0;
    if (mine === 0) rec.bytes += bytes;
    rec.pins.set(key, mine + 1);
    this.byFh.set(fh, { owner, pin: key });
  }

  /** The kernel released a handle (or its open never reached the caller). */
  release(fh: number): void {
    const h = this.byFh.get(fh);
    if (!h) return;
    this.byFh.delete(fh);
    this.reserved.delete(fh);
    const rec = this.owners.get(h.owner);
    if (h.pin !== undefined) {
      const pin = this.pins.get(h.pin);
      if (rec) {
        const left = (rec.pins.get(h.pin) ?? 1) - 1;
        if (left > 0) rec.pins.set(h.pin, left);
        else {
          rec.pins.delete(h.pin);
          rec.bytes -= pin?.bytes ?? 0;
        }
      }
      if (pin && --pin.handles === 0) this.dropPin(h.pin, pin);
    }
    if (rec && --rec.handles === 0) this.owners.delete(h.owner);
  }

  /** Locked plaintext held now: the cache, plus pinned copies it no longer holds (each once). */
  lockedBytes(): number {
    return this.cache.cachedBytes() + this.pinnedOnlyBytes();
  }

  /** What the cache may hold now: `lockedBytes` less the pinned copies it does not hold. */
  cacheBudget(): number {
    return Math.max(0, this.limits().lockedBytes - this.pinnedOnlyBytes());
  }

  stats(): LedgerStats {
    return {
      openHandles: this.byFh.size - this.reserved.size,
      lockedBytes: this.lockedBytes(),
      pinnedCopies: this.pins.size,
      owners: this.owners.size,
    };
  }

  private pinnedOnlyBytes(): number {
    let n = 0;
    for (const pin of this.pins.values()) if (!this.cache.holds(pin.source)) n += pin.bytes;
    return n;
  }

  /**
   * Throws FuseError ENFILE when `owner` holds all the handles it may: asked before a decrypt too,
   * so a container at its limit cannot make pald decrypt (or keep its cache hot) for nothing.
   */
  admitHandle(owner: string): void {
    const max = this.limits().openHandlesPerContainer;
    if ((this.owners.get(owner)?.handles ?? 0) >= max) {
      throw new FuseError(ENFILE, `limits.open_handles_per_container: ${max} open handles reached`);
    }
  }

  private ownerRecord(owner: string): Owner {
    let rec = this.owners.get(owner);
    if (!rec) {
      rec = { handles: 0, bytes: 0, pins: new Map() };
      this.owners.set(owner, rec);
    }
    return rec;
  }

  private dropPin(key: string, pin: Pin): void {
    this.pins.delete(key);
    pin.holder.wipe(); // lets go of the ledger's reference; the memory goes with the last holder
  }
}

/** Whose budget a caller's handles count against: its container, the host, or "unknown". */
export function handleOwner(identity: { readonly kind: string; readonly containerId?: string }): string {
  if (identity.kind === 'container' && identity.containerId) return `container:${identity.containerId}`;
  return identity.kind === 'host' ? 'host' : 'unknown';
}
