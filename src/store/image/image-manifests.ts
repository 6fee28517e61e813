// Secrets an image carries in /etc/pal: read once per image id through the container runtime's
// archive API (never through a host path into the container's root), validated like the host
// manifest, kept in memory, bounded in count. A malformed image manifest serves nothing and says
// why; it never takes anything else down.

import type { Readable } from 'node:stream';
import { parseManifest, MAX_MANIFEST_BYTES } from '../manifest.js';
import type { ManifestEntry, ManifestProblem } from '../types.js';
import { errorMessage } from '../../shared/error-message.js';
import {
  IMAGE_MANIFEST_PATH,
  IMAGE_PAL_DIR,
  IMAGE_PAL_YAML_PATH,
  readPalArchive,
  type ArchiveLimits,
  type PalArchive,
} from './archive.js';
import { palEntries, type PalEntryOptions } from './pal-entries.js';

/** What pald reads of an image's own config: its Env (for PAL_SECRETS_YAML) and Labels. */
export interface ImageConfigView {
  readonly env: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

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
  /** The image's own config (Docker image inspect), for PAL_SECRETS_YAML; absent: not looked at. */
  readonly readImageConfig?: (imageId: string) => Promise<ImageConfigView>;
  /** How Cloudflare PAL's secrets are served (environment, label discovery, Red October). */
  readonly pal?: Omit<PalEntryOptions, 'maxCiphertextBytes' | 'maxYamlBytes'>;
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
    const problems: ManifestProblem[] = [];
    const note = (p: ManifestProblem): void => {
      problems.push(p);
      this.opts.report?.(image, p);
    };
    const done = (entries: ReadonlyMap<string, ManifestEntry>, transient = false) => ({
      manifest: { image, entries, problems },
      transient,
    });
    let archive: PalArchive | undefined;
    let config: ImageConfigView | undefined;
    try {
      archive = await this.readArchive(containerId, image);
      // PAL_SECRETS_YAML: the image's own config (bound to its id), never the container's env.
      if (this.opts.readImageConfig) config = await this.opts.readImageConfig(image);
    } catch (err) {
      note({ file: `${image}:${IMAGE_MANIFEST_PATH}`, message: errorMessage(err) });
      return done(new Map(), (err as { name?: unknown }).name !== 'ImageArchiveError');
    }
    const entries = new Map<string, ManifestEntry>();
    if (archive?.manifestText !== undefined) {
      const parsed = await parseManifest(IMAGE_MANIFEST_PATH, archive.manifestText, { files: archive.files, image });
      if (!parsed.ok)
        note({
          file: `${image}:${IMAGE_MANIFEST_PATH}`,
          message: parsed.problems.map((p) => lineText(p)).join('; ') + ' (image manifest refused)',
        });
      else {
        for (const p of parsed.problems) note({ ...p, file: `${image}:${p.file}` });
        for (const [name, e] of parsed.entries) entries.set(name, e);
      }
    }
    const pal = await palEntries(
      { image, file: archive?.files.get(IMAGE_PAL_YAML_PATH), config },
      { ...this.opts.pal, maxCiphertextBytes: this.opts.maxCiphertextBytes, maxYamlBytes: MAX_MANIFEST_BYTES },
    );
    for (const p of pal.problems) note(p);
    for (const [name, e] of pal.entries) {
      if (entries.has(name))
        note({
          file: e.ciphertextPath,
          entry: name,
          message: `${e.palFormat?.source ?? name}: secrets.yaml also names "${name}": its entry is served`,
        });
      else entries.set(name, e);
    }
    return done(entries);
  }

  /** The image's /etc/pal, within limits and a timeout; undefined when the image has none. */
  private async readArchive(containerId: string, image: string): Promise<PalArchive | undefined> {
    const limits: ArchiveLimits = {
      manifestBytes: MAX_MANIFEST_BYTES,
      fileBytes: this.opts.maxCiphertextBytes,
      entries: MAX_ARCHIVE_ENTRIES,
      totalBytes: 2 * MAX_MANIFEST_BYTES + 4 * this.opts.maxCiphertextBytes,
    };
    const stream = await this.opts.readArchive(containerId, IMAGE_PAL_DIR, image);
    if (!stream) return undefined;
    const timeoutMs = this.opts.timeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        stream.destroy();
        reject(new Error(`reading ${IMAGE_PAL_DIR} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([readPalArchive(stream, limits), timeout]);
    } catch (err) {
      stream.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}

function lineText(p: ManifestProblem): string {
  return `${p.line === undefined ? '' : `line ${p.line}: `}${p.entry ? `[${p.entry}] ` : ''}${p.message}`;
}
