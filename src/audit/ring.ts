// The last lines of the audit log, for `pal audit` (recent()). A line JS formatted is kept as its
// string; the lines the warm path's addon wrote arrive as one UTF-8 chunk per batch and are kept
// as that chunk, split only when asked for: keeping them costs the JS thread nothing per line.

/** A run of lines as bytes: `count` lines, each ending in a newline. */
interface Chunk {
  readonly bytes: Buffer;
  readonly count: number;
}

type Entry = string | Chunk;

/** The `count` lines of a run of bytes (each newline-ended), as strings. */
export function linesOf(bytes: Buffer, count: number): string[] {
  return bytes.toString('utf8').split('\n').slice(0, count);
}

function linesIn(e: Entry): number {
  return typeof e === 'string' ? 1 : e.count;
}

export class LineRing {
  /**
   * Entries before `head` are gone and their slots emptied at once: a chunk is a view of a whole
   * batch's lines (memory outside V8's heap), and the thousand dead ones once kept until the array
   * was compacted held ≈ 14 MiB of it; with them V8 ran a full mark-compact every ≈ 0.7 s under a
   * steady warm load (docs/performance.md, issue 14, fifteenth sitting).
   */
  private entries: (Entry | undefined)[] = [];
  /** Index of the oldest entry kept (dropped in bulk, so a push never shifts the array). */
  private head = 0;
  /** Lines held by entries[head..]. */
  private lines = 0;

  /** Keeps at least the last `size` lines. */
  constructor(private readonly size: number) {}

  push(line: string): void {
    this.add(line);
  }

  /** `count` lines as UTF-8 bytes, each ending in a newline. */
  pushChunk(bytes: Buffer, count: number): void {
    if (count > 0) this.add({ bytes, count });
  }

  /** The last n lines (all kept when n is absent, at most `size`), oldest first. */
  recent(n = this.size): string[] {
    const want = Math.min(n, this.size);
    const out: string[][] = [];
    let have = 0;
    for (let i = this.entries.length - 1; i >= this.head && have < want; i--) {
      const e = this.entries[i]!;
      const lines = typeof e === 'string' ? [e] : linesOf(e.bytes, e.count);
      const taken = lines.slice(Math.max(0, lines.length - (want - have)));
      out.push(taken);
      have += taken.length;
    }
    return out.reverse().flat();
  }

  private add(e: Entry): void {
    this.entries.push(e);
    this.lines += linesIn(e);
    // Drop the oldest entries while the rest still hold `size` lines.
    while (this.head < this.entries.length - 1 && this.lines - linesIn(this.entries[this.head]!) >= this.size) {
      this.lines -= linesIn(this.entries[this.head]!);
      this.entries[this.head] = undefined;
      this.head++;
    }
    if (this.head >= 1024 && this.head * 2 >= this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
