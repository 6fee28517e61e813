// Secrets carried by an image in /etc/pal, read through the container runtime's archive API.
export {
  ImageManifests,
  type ImageManifest,
  type ImageManifestsOptions,
  type ContainerArchiveReader,
} from './image-manifests.js';
export {
  readPalArchive,
  ImageArchiveError,
  IMAGE_PAL_DIR,
  IMAGE_MANIFEST_PATH,
  type ArchiveLimits,
  type PalArchive,
} from './archive.js';
export { BoundedOnceSet } from './once-set.js';
