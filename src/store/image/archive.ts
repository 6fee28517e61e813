// Reads an image's /etc/pal out of the tar stream Docker's container archive endpoint returns.
// The stream comes from the image's author: every header is hostile. Only regular files and
// directories are accepted (a symlink or hardlink could name anything; pald never follows one),
// every size is bounded before its body is read, and names must stay inside /etc/pal.

import path from 'node:path';
import type { Readable } from 'node:stream';
import { extract } from 'tar-stream';

/** Where an image carries its manifest; ciphertext paths are relative to its directory. */
export const IMAGE_PAL_DIR = '/etc/pal';
export const IMAGE_MANIFEST_PATH = `${IMAGE_PAL_DIR}/secrets.yaml`;
/** Cloudflare PAL's PAL_SECRETS_YAML as a file in the image (store/image/pal-entries.ts). */
export const IMAGE_PAL_YAML_PATH = `${IMAGE_PAL_DIR}/pal-secrets.yaml`;

export interface ArchiveLimits {
  /** Largest secrets.yaml (and pal-secrets.yaml). */
  readonly manifestBytes: number;
  /** Largest other file (a ciphertext). */
  readonly fileBytes: number;
  /** Most entries (files and directories) in the archive. */
  readonly entries: number;
  /** Most bytes of all files together. */
  readonly totalBytes: number;
}

export interface PalArchive {
  /** secrets.yaml as text, absent when the image has none. */
  readonly manifestText?: string;
  /** Regular files by absolute in-image path (/etc/pal/…). */
  readonly files: ReadonlyMap<string, Buffer>;
}

export class ImageArchiveError extends Error {
  override readonly name = 'ImageArchiveError';
}

/**
 * The in-image path of an archive entry. Docker names entries after the requested directory's
 * basename ("pal/secrets.yaml"); anything else (absolute, "..", another top directory) is refused.
 */
function inImagePath(name: string): string {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts[0] !== path.posix.basename(IMAGE_PAL_DIR) || name.startsWith('/'))
    throw new ImageArchiveError(`archive entry ${JSON.stringify(name.slice(0, 200))} is outside ${IMAGE_PAL_DIR}`);
  if (parts.some((p) => p === '..'))
    throw new ImageArchiveError(`archive entry ${JSON.stringify(name.slice(0, 200))} escapes ${IMAGE_PAL_DIR}`);
  return path.posix.join(path.posix.dirname(IMAGE_PAL_DIR), ...parts);
}

/** Reads the whole archive within `limits`; rejects with ImageArchiveError for anything refused. */
export async function readPalArchive(stream: Readable, limits: ArchiveLimits): Promise<PalArchive> {
  const tar = extract();
  const files = new Map<string, Buffer>();
  let entries = 0;
  let total = 0;
  // pipe() does not forward a source error: end the iteration below with it.
  stream.on('error', (err) => tar.destroy(err));
  stream.pipe(tar);
  try {
    for await (const entry of tar) {
      const { header } = entry;
      if (++entries > limits.entries)
        throw new ImageArchiveError(`more than ${limits.entries} entries under ${IMAGE_PAL_DIR}`);
      const where = inImagePath(header.name);
      if (header.type === 'directory') {
        entry.resume();
        continue;
      }
      if (header.type !== 'file' && header.type !== 'contiguous-file') {
        throw new ImageArchiveError(
          `${where} is a ${header.type ?? 'file of unknown type'}: only regular files are read from an image`,
        );
      }
      const size = header.size ?? 0;
      const yaml = where === IMAGE_MANIFEST_PATH || where === IMAGE_PAL_YAML_PATH;
      const max = yaml ? limits.manifestBytes : limits.fileBytes;
      if (size > max) throw new ImageArchiveError(`${where} is ${size} bytes, larger than ${max}`);
      total += size;
      if (total > limits.totalBytes)
        throw new ImageArchiveError(`files under ${IMAGE_PAL_DIR} exceed ${limits.totalBytes} bytes together`);
      if (files.has(where)) throw new ImageArchiveError(`${where} appears twice in the archive`);
      const chunks: Buffer[] = [];
      let got = 0;
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        got += chunk.length;
        if (got > size) throw new ImageArchiveError(`${where}: more bytes than its header says`);
        chunks.push(chunk);
      }
      files.set(where, Buffer.concat(chunks, got));
    }
  } catch (err) {
    stream.destroy();
    tar.destroy();
    if (err instanceof ImageArchiveError) throw err;
    throw new ImageArchiveError(`unreadable archive: ${err instanceof Error ? err.message : String(err)}`);
  }
  const manifest = files.get(IMAGE_MANIFEST_PATH);
  files.delete(IMAGE_MANIFEST_PATH);
  if (manifest === undefined) return { files };
  const manifestText = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  try {
    return { manifestText: manifestText.decode(manifest), files };
  } catch {
    throw new ImageArchiveError(`${IMAGE_MANIFEST_PATH} is not UTF-8 text`);
  }
}
