// Turns an image's Cloudflare PAL secrets (PAL_SECRETS_YAML in the image config's Env, or the file
// /etc/pal/pal-secrets.yaml in the image) into manifest entries under /run/pal. Only the image's
// own config is read — it is part of the image id — never a container's runtime env, which
// whoever starts the container chooses (`docker run -e PAL_SECRETS_YAML=…` is ignored).
//
// A PAL pgp: ciphertext names its labels inside the encryption only, so pald cannot know them before
// decrypting: each pgp: entry is decrypted once when its image is first read, to learn the labels
// sealed in its payload (the value is wiped at once, never served or kept). From then on policy
// decides on those labels before every decrypt, and again on the sealed ones after, as for every secret.
// A PAL ro: ciphertext carries Red October's labels in clear (as PAL's server read them): they are
// read without any decrypt, and the Red October backend checks them again before each /decrypt.

import { createHash } from 'node:crypto';
import type { ManifestEntry, ManifestProblem } from '../types.js';
import { errorMessage } from '../../shared/error-message.js';
import { IMAGE_PAL_YAML_PATH } from './archive.js';
import { palYamlFromEnv, parsePalSecretsYaml, type PalSecret } from './pal-format.js';

/** The image label that picks the PAL environment (when the node does not). */
export const PAL_ENVIRONMENT_LABEL = 'pal.environment';
const MAX_PAL_ENTRIES = 64;

export interface PalSources {
  readonly image: string;
  /** /etc/pal/pal-secrets.yaml from the image's archive, if any. */
  readonly file?: Buffer | undefined;
  /** The image config (not the container's). */
  readonly config?: { readonly env: readonly string[]; readonly labels: Readonly<Record<string, string>> } | undefined;
}

export interface PalEntryOptions {
  readonly maxCiphertextBytes: number;
  readonly maxYamlBytes: number;
  /** The node's choice of PAL environment; wins over the image's pal.environment label. */
  readonly environment?: string | undefined;
  /**
   * Decrypts a pgp: entry to read the labels in its payload and the value's size (the value is
   * wiped); absent: no OpenPGP keys.
   */
  readonly payloadLabels?: ((entry: ManifestEntry) => Promise<PayloadFacts>) | undefined;
  /**
   * The Red October backend's reading of a ro: entry's clear labels and a bound of its size (no
   * decrypt; throws on a bad ciphertext); absent: the backend is not configured.
   */
  readonly roLabels?: ((entry: ManifestEntry) => PayloadFacts) | undefined;
}

/** What a PAL payload says of itself: its labels, and its value's size (file size under /run/pal). */
export interface PayloadFacts {
  readonly labels: readonly string[];
  readonly size: number;
}

export interface PalEntries {
  readonly entries: ReadonlyMap<string, ManifestEntry>;
  readonly problems: readonly ManifestProblem[];
}

export async function palEntries(src: PalSources, opts: PalEntryOptions): Promise<PalEntries> {
  const fromEnv = palYamlFromEnv(src.config?.env ?? []);
  const where =
    src.file !== undefined ? `${src.image}:${IMAGE_PAL_YAML_PATH}` : `${src.image}:config Env PAL_SECRETS_YAML`;
  const problems: ManifestProblem[] = [];
  const entries = new Map<string, ManifestEntry>();
  if (src.file === undefined && fromEnv === undefined) return { entries, problems };
  if (src.file !== undefined && fromEnv !== undefined) {
    problems.push({
      file: `${src.image}:${IMAGE_PAL_YAML_PATH}`,
      message: 'the image has both PAL_SECRETS_YAML in its config and /etc/pal/pal-secrets.yaml: neither is served',
    });
    return { entries, problems };
  }
  let text: string;
  try {
    text = src.file !== undefined ? new TextDecoder('utf-8', { fatal: true }).decode(src.file) : fromEnv!;
  } catch {
    return { entries, problems: [{ file: where, message: 'not UTF-8 text' }] };
  }
  const environment = opts.environment ?? src.config?.labels[PAL_ENVIRONMENT_LABEL];
  const parsed = parsePalSecretsYaml(text, {
    ...(environment === undefined ? {} : { environment }),
    maxCiphertextBytes: opts.maxCiphertextBytes,
    maxBytes: opts.maxYamlBytes,
    maxEntries: MAX_PAL_ENTRIES,
  });
  if (parsed.refused !== undefined)
    return { entries, problems: [{ file: where, message: `${parsed.refused} (PAL secrets refused)` }] };
  for (const p of parsed.problems)
    problems.push({
      file: where,
      ...(p.line === undefined ? {} : { line: p.line }),
      ...(p.entry ? { entry: p.entry } : {}),
      message: p.message,
    });
  for (const secret of parsed.secrets) {
    const made = await entryOf(src.image, where, secret, opts);
    if (typeof made === 'string')
      problems.push({
        file: where,
        ...(secret.line === undefined ? {} : { line: secret.line }),
        entry: secret.name,
        message: `${secret.source}: ${made}`,
      });
    else entries.set(made.name, made);
  }
  return { entries, problems };
}

async function entryOf(
  image: string,
  where: string,
  s: PalSecret,
  opts: PalEntryOptions,
): Promise<ManifestEntry | string> {
  if (s.scheme === 'ro') return roEntryOf(image, where, s, opts);
  const entry: ManifestEntry = {
    name: s.name,
    labels: [],
    mode: 0o400,
    backend: 'openpgp',
    ciphertextPath: `${where}#${s.source}`,
    version: createHash('sha256').update(s.ciphertext).digest('hex'),
    mtimeMs: 0,
    image,
    ciphertext: s.ciphertext,
    palFormat: { source: s.source, base64: s.base64 },
  };
  if (!opts.payloadLabels) return 'pgp: needs the host OpenPGP keys, and none are loaded';
  try {
    const { labels, size } = await opts.payloadLabels(entry);
    if (labels.length === 0) return 'the payload holds no labels';
    return { ...entry, labels, size };
  } catch (err) {
    return `cannot read the labels sealed in it: ${errorMessage(err)}`;
  }
}

/** A PAL ro: entry, served by the Red October backend; its ciphertext kept as a .ro file holds it (base64 text). */
function roEntryOf(image: string, where: string, s: PalSecret, opts: PalEntryOptions): ManifestEntry | string {
  if (!opts.roLabels) return 'ro: needs the Red October backend, which is not configured (redoctober: in pald.yaml)';
  const entry: ManifestEntry = {
    name: s.name,
    labels: [],
    mode: 0o400,
    backend: 'redoctober',
    ciphertextPath: `${where}#${s.source}`,
    version: createHash('sha256').update(s.ciphertext).digest('hex'),
    mtimeMs: 0,
    image,
    ciphertext: Buffer.from(s.ciphertext.toString('base64'), 'latin1'),
    palFormat: { source: s.source, base64: s.base64 },
  };
  try {
    const { labels, size } = opts.roLabels(entry);
    return { ...entry, labels: [...labels], size };
  } catch (err) {
    return `cannot read its Red October labels: ${errorMessage(err)}`;
  }
}
