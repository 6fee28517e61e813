// Secrets an image carries in /etc/pal: read once per image id through the container runtime's
// archive API (never through a host path into the container's root), validated like the host
// manifest, kept in memory, bounded in count. A malformed image manifest serves nothing and says
// why; it never takes anything else down.

import type { Readable } from 'node:stream';
import { parseManifest, MAX_MANIFEST_BYTES } from '../manifest.js';
import type { ManifestEntry, ManifestProblem } from '../types.js';
import { errorMessage } from '../../shared/error-message.js';
import { IMAGE_MANIFEST_PATH, IMAGE_PAL_DIR, readPalArchive, type ArchiveLimits } from './archive.js';

export interface ImageManifest {
  readonly image: string;
  /** Valid entries (empty when the image has no manifest or it was refused). */
  readonly entries: ReadonlyMap<string, ManifestEntry>;
  readonly problems: readonly ManifestProblem[];
}

/**
 * A tar stream of `path` as image `imageId` has it (the caller `containerId` runs that image), or
 * undefined when the path does not exist there. Rejects for any other failure (the runtime is down, …).
 */
export type ContainerArchiveReader = (
  containerId: string,
  path: string,
  imageId: string,
) => Promise<Readable | undefined>;

export interface ImageManifestsOptions {
  readonly readArchive: ContainerArchiveReader;
  /** limits.secret_bytes: the largest ciphertext accepted (ciphertexts are about that size). */
  readonly maxCiphertextBytes: number;
  /** Images remembered (least recently used out first). Default 256. */
  readonly maxImages?: number;
  /** One archive read, ms (default 10 s). */
  readonly timeoutMs?: number;
  /** Called once per image read, with each problem found. */
  readonly report?: (image: string, problem: ManifestProblem) => void;
}

const MAX_ARCHIVE_ENTRIES = 256;

export class ImageManifests {
  private readonly byImage = new Map<string, ImageManifest>();
  private readonly loading = new Map<string, Promise<ImageManifest>>();

  constructor(private readonly opts: ImageManifestsOptions) {}

  /** The manifest of the image `containerId` runs (`imageId`), read at the first sight of that image. */
  get(containerId: string, imageId: string): Promise<ImageManifest> {
    const known = this.byImage.get(imageId);
    if (known) {
      this.byImage.delete(imageId);
      this.byImage.set(imageId, known);
      return Promise.resolve(known);
    }
    let pending = this.loading.get(imageId);
    if (!pending) {
      pending = this.load(containerId, imageId).then((m) => {
        this.loading.delete(imageId);
        if (m.transient) return m.manifest; // the runtime failed: try again at the next sight
        this.remember(m.manifest);
        return m.manifest;
      });
      this.loading.set(imageId, pending);
    }
    return pending;
  }

  /** The manifests read so far (most recently used last), for `pal secrets`. */
  known(): readonly ImageManifest[] {
    return [...this.byImage.values()];
  }

  /** Forget an image (deleted or retagged): its next container reads it again. */
  forget(imageId: string): void {
    this.byImage.delete(imageId);
  }

  private remember(m: ImageManifest): void {
    const max = Math.max(1, this.opts.maxImages ?? 256);
    while (this.byImage.size >= max) this.byImage.delete(this.byImage.keys().next().value as string);
    this.byImage.set(m.image, m);
  }

  private async load(containerId: string, image: string): Promise<{ manifest: ImageManifest; transient: boolean }> {
    const refused = (message: string, transient = false): { manifest: ImageManifest; transient: boolean } => {
      const problem: ManifestProblem = { file: `${image}:${IMAGE_MANIFEST_PATH}`, message };
      this.opts.report?.(image, problem);
      return { manifest: { image, entries: new Map(), problems: [problem] }, transient };
    };
    const limits: ArchiveLimits = {
      manifestBytes: MAX_MANIFEST_BYTES,
      fileBytes: this.opts.maxCiphertextBytes,
      entries: MAX_ARCHIVE_ENTRIES,
      totalBytes: MAX_MANIFEST_BYTES + 4 * this.opts.maxCiphertextBytes,
    };
    let stream: Readable | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      stream = await this.opts.readArchive(containerId, IMAGE_PAL_DIR, image);
      if (!stream) return { manifest: { image, entries: new Map(), problems: [] }, transient: false };
      const s = stream;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          s.destroy();
          reject(new Error(`reading ${IMAGE_PAL_DIR} took longer than ${this.opts.timeoutMs ?? 10_000} ms`));
        }, this.opts.timeoutMs ?? 10_000);
      });
      const archive = await Promise.race([readPalArchive(s, limits), timeout]);
      if (archive.manifestText === undefined)
        return { manifest: { image, entries: new Map(), problems: [] }, transient: false };
      const parsed = await parseManifest(IMAGE_MANIFEST_PATH, archive.manifestText, { files: archive.files, image });
      if (!parsed.ok) return refused(parsed.problems.map((p) => lineText(p)).join('; ') + ' (image manifest refused)');
      const problems = parsed.problems.map((p) => ({ ...p, file: `${image}:${p.file}` }));
      for (const p of problems) this.opts.report?.(image, p);
      return { manifest: { image, entries: parsed.entries, problems }, transient: false };
    } catch (err) {
      stream?.destroy();
      const transient = (err as { name?: unknown }).name !== 'ImageArchiveError';
      return refused(errorMessage(err), transient);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
}

function lineText(p: ManifestProblem): string {
  return `${p.line === undefined ? '' : `line ${p.line}: `}${p.entry ? `[${p.entry}] ` : ''}${p.message}`;
}
