// The manifest store: secrets.yaml validated, watched, kept-last-good.
export type { BackendName, ManifestEntry, ManifestProblem, ManifestSnapshot, ManifestStoreOptions } from './types.js';
export { ManifestStore } from './store.js';
export { parseManifest, MAX_CIPHERTEXT_BYTES } from './manifest.js';
export { secretNameProblem, labelProblem, parseMode } from './names.js';
export { writeFileAtomic, upsertManifestEntry, upsertManifestEntryText } from './edit.js';
export type { ManifestEntryEdit } from './edit.js';
export {
  fileSafetyProblem,
  fileSafetyProblemSync,
  readRegularFile,
  readRegularFileSync,
  FileSafetyError,
} from './file-safety.js';
export type { FileSafetyOptions, SafeFileKind } from './file-safety.js';
export { ImageManifests, BoundedOnceSet, IMAGE_PAL_DIR, IMAGE_MANIFEST_PATH } from './image/index.js';
export type { ImageManifest, ContainerArchiveReader, ImageConfigView } from './image/index.js';
