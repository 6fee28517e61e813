// Reading what an image itself carries through Docker's API, never through paths on the host: its
// files (the archive endpoint, on a container created from the image and never started) and its
// own config (image inspect). Used for image-carried secrets (docs/manifest.md).
import Docker from 'dockerode';
import { finished, type Readable } from 'node:stream';
import { containErrorAnswers, dockerConnection, IMAGE_ID, said } from './docker-runtime.js';
import { RuntimeError } from './runtime.js';

/**
 * A tar stream of `path` as image `imageId` has it, through the Engine API's archive endpoint, or
 * undefined when the path does not exist there. Read from a container created for the purpose and
 * never started (removed once the stream ends), not from the caller's container: a running
 * container's writable layer or a volume mounted on `path` could otherwise decide what every
 * container of the image is served. Docker resolves the path inside that container's root; pald
 * never follows it from the host. Rejects with a RuntimeError otherwise.
 */
export type ContainerArchiveReader = (
  containerId: string,
  path: string,
  imageId: string,
) => Promise<Readable | undefined>;

export function createDockerArchiveReader(dockerHost: string, requestTimeoutMs = 10_000): ContainerArchiveReader {
  const docker = new Docker({ ...dockerConnection(dockerHost), timeout: requestTimeoutMs });
  containErrorAnswers(docker.modem);
  return async (_containerId, path, imageId) => {
    if (!IMAGE_ID.test(imageId)) throw new RuntimeError('invalid', 'not an image id');
    let reader: Docker.Container;
    try {
      reader = await docker.createContainer({
        Image: imageId,
        Entrypoint: ['/pal-image-reader-never-started'],
        Cmd: [],
        NetworkDisabled: true,
        Labels: { 'pal.image-reader': '1' },
      });
    } catch (err) {
      throw new RuntimeError(
        'unreachable',
        `docker at ${dockerHost}: cannot create a reader of ${imageId}: ${said(err)}`,
      );
    }
    const remove = (): void => {
      reader.remove({ force: true, v: true }).catch(() => undefined);
    };
    try {
      const stream = (await reader.getArchive({ path })) as Readable;
      finished(stream, remove);
      return stream;
    } catch (err) {
      remove();
      if ((err as { statusCode?: unknown }).statusCode === 404) return undefined;
      throw new RuntimeError('unreachable', `docker at ${dockerHost}: archive of ${path} in ${imageId}: ${said(err)}`);
    }
  };
}

/** An image's own config (part of its id), never a container's: what the image itself says. */
export interface ImageConfig {
  readonly env: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

/** Reads an image's config Env and Labels through Docker's image inspect (for PAL_SECRETS_YAML). */
export function createDockerImageConfigReader(
  dockerHost: string,
  requestTimeoutMs = 10_000,
): (imageId: string) => Promise<ImageConfig> {
  const docker = new Docker({ ...dockerConnection(dockerHost), timeout: requestTimeoutMs });
  containErrorAnswers(docker.modem);
  return async (imageId) => {
    if (!IMAGE_ID.test(imageId)) throw new RuntimeError('invalid', 'not an image id');
    let raw: { Id?: unknown; Config?: { Env?: unknown; Labels?: unknown } | null };
    try {
      raw = await docker.getImage(imageId).inspect();
    } catch (err) {
      throw new RuntimeError('unreachable', `docker at ${dockerHost}: inspect of image ${imageId}: ${said(err)}`);
    }
    if (raw.Id !== imageId) throw new RuntimeError('invalid', `inspect of ${imageId} answered for another image`);
    const env = Array.isArray(raw.Config?.Env) ? raw.Config.Env.filter((e): e is string => typeof e === 'string') : [];
    const labels: Record<string, string> = {};
    const given = raw.Config?.Labels;
    if (given && typeof given === 'object')
      for (const [k, v] of Object.entries(given)) if (typeof v === 'string') labels[k] = v;
    return { env, labels };
  };
}
