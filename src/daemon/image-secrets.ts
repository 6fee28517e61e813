// Wires image-carried secrets (store/image) to the filesystem: the caller's image's entries, read
// through Docker's archive endpoint once per image id, minus the names the host manifest serves
// (the host wins; the clash is logged and audited once per image and name). Problems of an image
// manifest go to the log and the audit log, once per image read.

import type { AuditEvent } from '../audit/index.js';
import type { ImageSecretSource } from '../fs/index.js';
import type { PaldConfig } from '../config/index.js';
import {
  createDockerArchiveReader,
  createDockerImageConfigReader,
  type ContainerArchiveReader,
} from '../identity/index.js';
import type { Caller } from '../policy/index.js';
import type { Backend } from '../crypto/index.js';
import { palRoSizeBound } from '../crypto/index.js';
import {
  BoundedOnceSet,
  ImageManifests,
  type ImageConfigView,
  type ImageManifest,
  type ManifestEntry,
} from '../store/index.js';

export interface ImageSecretsWiring {
  readonly readArchive: ContainerArchiveReader;
  readonly maxCiphertextBytes: number;
  readonly hostEntries: () => ReadonlyMap<string, ManifestEntry>;
  readonly log: (message: string) => void;
  readonly audit: { record(event: AuditEvent): void };
  /** The image's own config (Env, Labels), for Cloudflare PAL's PAL_SECRETS_YAML. */
  readonly readImageConfig?: (imageId: string) => Promise<ImageConfigView>;
  /** The host's OpenPGP keys: a PAL pgp: entry is decrypted once to learn its payload's labels. */
  readonly openpgp?: Backend;
  /** The Red October backend, if configured: PAL ro: entries' labels are read in clear by it. */
  readonly redOctober?: Backend | undefined;
  /** The node's PAL environment; absent: the image's pal.environment label, or its only one. */
  readonly palEnvironment?: string;
  /** Clashes remembered so each is reported once (oldest forgotten first). Default 4096. */
  readonly maxClashesRemembered?: number;
}

/** What the wiring serves, plus what it keeps (for tests and `pal status`). */
export interface ImageSecretSourceHandle extends ImageSecretSource {
  forget(image: string): void;
  /** Image-and-name clashes currently remembered (never more than maxClashesRemembered). */
  clashesRemembered(): number;
  /** The manifests of the images read so far (for `pal secrets`; the host's entries still win a clash). */
  known(): readonly ImageManifest[];
}

export function createImageSecretSource(w: ImageSecretsWiring): ImageSecretSourceHandle {
  const record = (image: string, decision: AuditEvent['decision'], reason: string, secret?: string): void =>
    w.audit.record({
      time: new Date().toISOString(),
      pid: process.pid,
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      image,
      ...(secret === undefined ? {} : { secret }),
      op: 'image-manifest',
      decision,
      reason,
      latency_us: 0,
    });
  const openpgp = w.openpgp;
  const redOctober = w.redOctober;
  const manifests = new ImageManifests({
    readArchive: w.readArchive,
    maxCiphertextBytes: w.maxCiphertextBytes,
    ...(w.readImageConfig ? { readImageConfig: w.readImageConfig } : {}),
    pal: {
      environment: w.palEnvironment,
      roLabels: redOctober?.sealedBeforeDecrypt
        ? (entry) => {
            const ct = entry.ciphertext ?? new Uint8Array();
            const labels = redOctober.sealedBeforeDecrypt!(entry, ct).sealedLabels;
            return { labels, size: palRoSizeBound(ct, entry.palFormat?.base64 ?? false) };
          }
        : undefined,
      // The labels are inside the encryption: decrypt once, keep the labels, wipe the value now.
      payloadLabels: openpgp
        ? async (entry) => {
            const opened = await openpgp.decrypt(entry, entry.ciphertext ?? new Uint8Array());
            const size = opened.plaintext.length;
            opened.plaintext.wipe();
            return { labels: opened.sealedLabels, size };
          }
        : undefined,
    },
    report: (image, p) => {
      const where = `${p.file}${p.line === undefined ? '' : `:${p.line}`}${p.entry ? ` [${p.entry}]` : ''}`;
      w.log(`pald: image manifest problem: ${where}: ${p.message}`);
      record(image, 'error', `${where}: ${p.message}`, p.entry);
    },
  });
  const clashes = new BoundedOnceSet(w.maxClashesRemembered ?? 4096);
  return {
    async forCaller(caller: Caller): Promise<ReadonlyMap<string, ManifestEntry>> {
      const { containerId, imageId } = caller.identity;
      if (containerId === undefined || imageId === undefined) return new Map();
      const manifest = await manifests.get(containerId, imageId);
      const host = w.hostEntries();
      const served = new Map<string, ManifestEntry>();
      for (const [name, entry] of manifest.entries) {
        if (!host.has(name)) {
          served.set(name, entry);
          continue;
        }
        if (!clashes.first(`${imageId}\0${name}`)) continue;
        const reason = `image ${imageId} carries secret "${name}", which the host manifest also names: the host's is served`;
        w.log(`pald: ${reason}`);
        record(imageId, 'deny', reason, name);
      }
      return served;
    },
    forget(image: string): void {
      manifests.forget(image);
      clashes.forgetPrefix(`${image}\0`);
    },
    clashesRemembered: () => clashes.size,
    known: () => manifests.known(),
  };
}

/**
 * The image secret source of a node: secrets an image carries in /etc/pal or in its config's
 * PAL_SECRETS_YAML, read through Docker (never a host path). A node with Docker off
 * (`docker.host: ""`, CRI only) has none: CRI has no API to read an image's files.
 */
export function imageSecretsOfNode(parts: {
  readonly config: PaldConfig;
  readonly store: { current(): { readonly entries: ReadonlyMap<string, ManifestEntry> } };
  readonly audit: { record(event: AuditEvent): void };
  readonly log: (message: string) => void;
  readonly backend: Backend;
  readonly redOctober: Backend | undefined;
}): ImageSecretSourceHandle | undefined {
  const { config, store } = parts;
  if (config.docker.host === '') return undefined;
  return createImageSecretSource({
    readArchive: createDockerArchiveReader(config.docker.host),
    readImageConfig: createDockerImageConfigReader(config.docker.host), // PAL_SECRETS_YAML
    maxCiphertextBytes: config.limits.secretBytes,
    hostEntries: () => store.current().entries,
    log: parts.log,
    audit: parts.audit,
    openpgp: parts.backend,
    redOctober: parts.redOctober,
    ...(config.imageSecrets.palEnvironment === undefined ? {} : { palEnvironment: config.imageSecrets.palEnvironment }),
  });
}
