// Images of running containers, inspected once and kept by id. Bounded by count, least recently
// used first out: a host that cycles through many images must not grow pald's memory forever,
// and an evicted image only costs one more inspect the next time a container of it is seen.

import type { RuntimeImage } from './runtime.js';

export interface ImageCacheOptions {
  /** Rejects with RuntimeError (ContainerRuntime.inspectImage). */
  readonly inspect: (imageId: string) => Promise<RuntimeImage>;
  /** Most images kept; at least 1. */
  readonly maxImages: number;
}

export class ImageCache {
  /** Map order is least recently used first. */
  private readonly images = new Map<string, RuntimeImage>();
  /** Single flight: concurrent first sights of an image share one inspect. */
  private readonly loading = new Map<string, Promise<RuntimeImage>>();
  private readonly maxImages: number;

  constructor(private readonly opts: ImageCacheOptions) {
    this.maxImages = Math.max(1, Math.floor(opts.maxImages));
  }

  get size(): number {
    return this.images.size;
  }

  /** The image, from the cache or one inspect shared by concurrent callers. Rejects as inspect does. */
  get(imageId: string): Promise<RuntimeImage> {
    const cached = this.images.get(imageId);
    if (cached !== undefined) {
      this.images.delete(imageId);
      this.images.set(imageId, cached);
      return Promise.resolve(cached);
    }
    let pending = this.loading.get(imageId);
    if (pending === undefined) {
      pending = this.opts.inspect(imageId).then(
        (image) => {
          this.loading.delete(imageId);
          this.remember(imageId, image);
          return image;
        },
        (err: unknown) => {
          this.loading.delete(imageId);
          throw err;
        },
      );
      this.loading.set(imageId, pending);
    }
    return pending;
  }

  /** Forget an image (a runtime event changed or removed it). */
  delete(imageId: string): void {
    this.images.delete(imageId);
  }

  /** Empty the cache; resolves once inspects in flight have settled. */
  async clear(): Promise<void> {
    this.images.clear();
    await Promise.allSettled([...this.loading.values()]);
  }

  private remember(imageId: string, image: RuntimeImage): void {
    this.images.delete(imageId);
    while (this.images.size >= this.maxImages) {
      const oldest = this.images.keys().next().value as string;
      this.images.delete(oldest);
    }
    this.images.set(imageId, image);
  }
}
