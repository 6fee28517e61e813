// A container as the e2e tests run one: long-lived (sleep), no network, with pald's mountpoint at /run/pal
// read-only and rslave (as the docs tell operators), so that a restarted pald reaches running containers.
import type { TestDockerd } from '../../scripts/components/dockerd.js';
import { runCommand } from './pald.js';

/** `docker run -d` of `image` named `name` with /run/pal mounted; `extra` are more `docker run` options. */
export async function runWithPal(
  dockerd: TestDockerd,
  mountpoint: string,
  name: string,
  image: string,
  ...extra: string[]
): Promise<string> {
  await dockerd.docker(
    'run',
    '-d',
    '--name',
    name,
    ...extra,
    '--network',
    'none',
    '-v',
    `${mountpoint}:/run/pal:ro,rslave`,
    image,
    'sleep',
    '3600',
  );
  return name;
}

/** docker exec; resolves {code, stdout, stderr} instead of throwing, so denials can be asserted. */
export function execIn(dockerd: TestDockerd, container: string, ...cmd: string[]) {
  return runCommand('docker', ['-H', dockerd.host, 'exec', container, ...cmd]);
}

/** `docker build -q` of the context `dir` as `tag` with the classic builder (no buildx plugin here). */
export async function buildImage(dockerd: TestDockerd, tag: string, dir: string, ...args: string[]): Promise<void> {
  const r = await runCommand('docker', ['-H', dockerd.host, 'build', '-q', ...args, '-t', tag, dir], {
    env: { ...process.env, DOCKER_BUILDKIT: '0' },
  });
  if (r.code !== 0) throw new Error(`docker build ${tag}: ${r.stderr}`);
}
