// Secrets carried by an image in /etc/pal, read through the container runtime's archive API.
export {
  ImageManifests,
  type ImageManifest,
  type ImageManifestsOptions,
  type ContainerArchiveReader,
  type ImageConfigView,
} from './image-manifests.js';
export { parsePalSecretsYaml, palYamlFromEnv, type PalSecret, type PalParsed } from './pal-format.js';
export { palEntries, PAL_ENVIRONMENT_LABEL, type PalEntryOptions, type PayloadFacts } from './pal-entries.js';
export {
  readPalArchive,
  ImageArchiveError,
  IMAGE_PAL_DIR,
  IMAGE_MANIFEST_PATH,
  IMAGE_PAL_YAML_PATH,
  type ArchiveLimits,
  type PalArchive,
} from './archive.js';
export { BoundedOnceSet } from './once-set.js';
