// A stand-in for the native SecureBuffer (our own interface) that records
// allocations and wipes, so tests can check that evicted plaintext is zeroed.
import type { SecureBuffer } from '../../src/native/types.js';

export class FakeSecureBuffer implements SecureBuffer {
  private bytes: Uint8Array | undefined;
  /** The backing memory, kept after wipe() so tests can check it was zeroed. */
  readonly memory: Uint8Array;
  /** Holders of `memory` (this buffer and its share()s); the last wipe() zeroes it. */
  private readonly holders: { n: number };

  constructor(
    size: number,
    private readonly registry: FakeSecureMemory,
    sharing?: FakeSecureBuffer,
  ) {
    this.memory = sharing ? sharing.memory : new Uint8Array(size);
    this.holders = sharing ? sharing.holders : { n: 0 };
    this.holders.n++;
    this.bytes = this.memory;
    if (!sharing) registry.allocated.push(this);
  }

  get length(): number {
    return this.memory.length;
  }

  get alive(): boolean {
    return this.bytes !== undefined;
  }

  write(src: Uint8Array, offset = 0): void {
    if (!this.bytes) throw new Error('write after wipe');
    this.bytes.set(src, offset);
  }

  clone(): SecureBuffer {
    if (!this.bytes) throw new Error('clone after wipe');
    const c = new FakeSecureBuffer(this.length, this.registry);
    c.write(this.bytes);
    return c;
  }

  share(): SecureBuffer {
    if (!this.bytes) throw new Error('share after wipe');
    return new FakeSecureBuffer(this.length, this.registry, this);
  }

  /** The memory is still held by someone (this buffer or a share). */
  get held(): boolean {
    return this.holders.n > 0;
  }

  read(offset = 0, length = this.length - offset): Buffer {
    if (!this.bytes) throw new Error('read after wipe');
    return Buffer.from(this.bytes.subarray(offset, offset + length));
  }

  wipe(): void {
    if (!this.bytes) return;
    this.bytes = undefined;
    if (--this.holders.n > 0) return;
    this.memory.fill(0);
    this.registry.wipes++;
  }
}

export class FakeSecureMemory {
  readonly allocated: FakeSecureBuffer[] = [];
  wipes = 0;

  /** secureBufferFrom semantics: copy, then zero the source. */
  readonly from = (src: Uint8Array): SecureBuffer => {
    const b = new FakeSecureBuffer(src.length, this);
    b.write(src);
    src.fill(0);
    return b;
  };

  /** Memories still held (a shared one counted once). */
  live(): number {
    return this.allocated.filter((b) => b.held).length;
  }
}
