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
  /** Inodes whose last close is to be told once the current job ends (see release()). */
  private readonly closedLater = new Set<number>();

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

  /**
   * Forgets `fh`; returns what it was, or undefined for a handle that is not (or no longer) open.
   * `coalesce`: a last close is told once per inode when the current job ends (a batch of closes
   * the addon answered, open-leases.ts, often holds many last closes of one secret), not at once.
   */
  release(fh: number, coalesce = false): OpenHandle | undefined {
    const handle = this.byFh.get(fh);
    if (!handle) return undefined;
    this.byFh.delete(fh);
    const left = (this.perIno.get(handle.ino) ?? 0) - 1;
    if (left > 0) this.perIno.set(handle.ino, left);
    else if (!coalesce) {
      if (this.perIno.delete(handle.ino)) this.onLastClose(handle.ino);
    } else if (left === 0) {
      // Kept at 0 until the job ends: a batch opens and closes one secret over and over, and a Map
      // emptied and refilled per close reallocates its table each time (~0.3 µs per open).
      this.perIno.set(handle.ino, 0);
      this.closeLater(handle.ino);
    }
    return handle;
  }

  /**
   * A handle of `ino` opened and closed within the current job, told at once (the addon folds a
   * close into its open's event when JS had not heard of the open yet): the same as add() then
   * release(fh, true), without the handle ever being listed.
   */
  openedAndClosed(ino: number): void {
    if ((this.perIno.get(ino) ?? 0) > 0) return; // other handles keep it open
    this.perIno.set(ino, 0);
    this.closeLater(ino);
  }

  private closeLater(ino: number): void {
    if (this.closedLater.size === 0)
      queueMicrotask(() => {
        const inos = [...this.closedLater];
        this.closedLater.clear();
        for (const i of inos) {
          if (this.perIno.get(i) === 0) this.perIno.delete(i); // reopened since: it stays counted
          this.onLastClose(i);
        }
      });
    this.closedLater.add(ino);
  }

  get size(): number {
    return this.byFh.size;
  }
}
