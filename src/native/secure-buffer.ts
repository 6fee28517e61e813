// SecureBuffer over the addon's locked memory. The bytes live outside the JS heap; JS holds an
// opaque handle and copies bytes out only through read().
import { binding, type LockedMemoryStats, type SecureBufferInfo, type SecureHandle } from './binding.js';
import type { SecureBuffer } from './types.js';

const handles = new WeakMap<SecureBuffer, SecureHandle>();

class NativeSecureBuffer implements SecureBuffer {
  readonly length: number;

  constructor(handle: SecureHandle, length?: number) {
    handles.set(this, handle);
    this.length = length ?? binding.sbInfo(handle).length;
  }

  get alive(): boolean {
    return binding.sbInfo(handleOf(this)).alive;
  }

  write(src: Uint8Array, offset = 0): void {
    binding.sbWrite(handleOf(this), src, offset);
  }

  clone(): SecureBuffer {
    return new NativeSecureBuffer(binding.sbClone(handleOf(this)));
  }

  share(): SecureBuffer {
    return new NativeSecureBuffer(binding.sbShare(handleOf(this)), this.length);
  }

  read(offset = 0, length?: number): Buffer {
    return binding.sbRead(handleOf(this), offset, length ?? Math.max(0, this.length - offset));
  }

  wipe(): void {
    binding.sbWipe(handleOf(this));
  }

  // Never show the bytes in logs or inspection.
  toJSON(): string {
    return `[SecureBuffer ${this.length} bytes]`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toJSON();
  }
}

/** The native handle behind a SecureBuffer made by this module; throws for any other object. */
export function handleOf(buf: SecureBuffer): SecureHandle {
  const h = handles.get(buf);
  if (!h) throw new TypeError('not a SecureBuffer from allocSecureBuffer/secureBufferFrom');
  return h;
}

/**
 * Locked (mlock), undumpable (MADV_DONTDUMP), zero-filled memory of `size` bytes. Throws an
 * error with code ERR_PAL_MLOCK when the memory cannot be locked (RLIMIT_MEMLOCK): plaintext is
 * never kept in unlocked memory instead.
 */
export function allocSecureBuffer(size: number): SecureBuffer {
  return new NativeSecureBuffer(binding.sbAlloc(size));
}

/** Copies `bytes` into a new secure buffer, then zeroes `bytes`. */
export function secureBufferFrom(bytes: Uint8Array): SecureBuffer {
  return new NativeSecureBuffer(binding.sbFrom(bytes));
}

/** Test and diagnostics hooks; they never return the secret bytes themselves. */
export const secureBufferDebug = {
  /** Where the memory is (hex address, for /proc/self/smaps) and its state. */
  info(buf: SecureBuffer): SecureBufferInfo {
    return binding.sbInfo(handleOf(buf));
  },
  /** Lets go like wipe(); if this was the last holder, returns what the memory held right after
   * the wipe, before it was freed; null while other holders keep it. */
  wipeAndReadBack(buf: SecureBuffer): Buffer | null {
    return binding.sbWipeProbe(handleOf(buf));
  },
};

/** Locked memory held right now: live secure buffers (a shared one once) and the reuse pool. */
export function lockedMemoryStats(): LockedMemoryStats {
  return binding.sbStats();
}
