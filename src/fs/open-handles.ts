// The file handles the view has handed out: fh numbers, which inode each one reads, and how many
// handles each inode has open, so that the last close of a secret can drop what the kernel may
// have cached of it (see onLastClose in view.ts).

export interface OpenHandle {
  readonly ino: number;
  readonly name: string;
}

export class OpenHandles {
  private readonly byFh = new Map<number, OpenHandle>();
  private readonly perIno = new Map<number, number>();
  private nextFh = 1;

  /** @param onLastClose called when the last handle of an inode is released. */
  constructor(private readonly onLastClose: (ino: number) => void) {}

  /** A fresh handle number (never reused while pald runs). */
  allocate(): number {
    return this.nextFh++;
  }

  /** Records `fh` (from allocate()) as open on `ino`. */
  add(fh: number, handle: OpenHandle): void {
    this.byFh.set(fh, handle);
    this.perIno.set(handle.ino, (this.perIno.get(handle.ino) ?? 0) + 1);
  }

  /** Forgets `fh`; returns what it was, or undefined for a handle that is not (or no longer) open. */
  release(fh: number): OpenHandle | undefined {
    const handle = this.byFh.get(fh);
    if (!handle) return undefined;
    this.byFh.delete(fh);
    const left = (this.perIno.get(handle.ino) ?? 0) - 1;
    if (left > 0) this.perIno.set(handle.ino, left);
    else if (this.perIno.delete(handle.ino)) this.onLastClose(handle.ino);
    return handle;
  }

  get size(): number {
    return this.byFh.size;
  }
}
