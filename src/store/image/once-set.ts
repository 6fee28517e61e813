// "Report this once" memory with a bound. Keys come from images (any image id times any secret
// name a manifest carries), so an unbounded set would grow with every image a node ever ran: the
// oldest key is forgotten first, and a forgotten key is at worst reported once more.

export class BoundedOnceSet {
  private readonly keys = new Set<string>();

  constructor(private readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`BoundedOnceSet: max must be a positive integer`);
  }

  /** True the first time `key` is seen (since it was last forgotten); remembers it. */
  first(key: string): boolean {
    if (this.keys.has(key)) return false;
    while (this.keys.size >= this.max) this.keys.delete(this.keys.values().next().value as string);
    this.keys.add(key);
    return true;
  }

  /** Forgets every key starting with `prefix` (an image that went away). */
  forgetPrefix(prefix: string): void {
    for (const key of this.keys) if (key.startsWith(prefix)) this.keys.delete(key);
  }

  get size(): number {
    return this.keys.size;
  }
}
