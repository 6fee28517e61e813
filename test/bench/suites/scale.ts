// Scale rows of issue 14: the per-open cost of a warm open+read+close from inside a container
// must stay flat from 10 to 10,000 secrets in the manifest and from 10 to 200 running containers
// that have read through pald; and pald's RSS and locked memory (VmLck) with them. Each pair is
// its own suite whose small case is the "floor", so the × column is the growth ratio
// (ops/s at the small size ÷ ops/s at the large one). Real containers, not simulated callers;
// BENCH_CONTAINERS lowers the large count on a slow machine.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

import { startDockerd, type TestDockerd } from '../../helpers/dockerd.js';
import { startPald, type TestPald } from '../../helpers/pald.js';
import type { BenchContext } from '../harness.js';

const execFileAsync = promisify(execFile);
const SIZE = 64;
const FEW = 10;
const MANY_SECRETS = 10_000;
const MANY_CONTAINERS = Number(process.env.BENCH_CONTAINERS ?? 200);
const START_BATCH = 8;

export const title = 'scale: per-open cost with many secrets and many containers (fast path on)';

/** VmRSS and VmLck of a process, in KiB, from /proc/<pid>/status. */
async function memoryKiB(pid: number): Promise<{ rss: number; lck: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: field('VmRSS'), lck: field('VmLck') };
}

/**
 * Rewrites the manifest in block style with the sealed `names` (pal seal writes NAME.pgp next to
 * it) and `extra` more entries, each with its own copy of the first name's ciphertext; then reloads.
 */
async function growManifest(pald: TestPald, names: readonly string[], extra: number): Promise<void> {
  const dir = dirname(pald.manifest);
  const entry = (name: string, file: string): string =>
    `  ${name}:\n    file: ${file}\n    labels: [bench]\n    mode: "0400"\n`;
  const lines = names.map((name) => entry(name, `${name}.pgp`));
  for (let i = 0; i < extra; i++) {
    await copyFile(join(dir, `${names[0]}.pgp`), join(dir, `scale-${i}.pgp`));
    lines.push(entry(`scale-${i}`, `scale-${i}.pgp`));
  }
  const tmp = `${pald.manifest}.tmp-scale`;
  await writeFile(tmp, 'secrets:\n' + lines.join(''));
  await rename(tmp, pald.manifest);
  await pald.reconfigure({}); // SIGHUP, and wait for the reload
}

export async function run(ctx: BenchContext): Promise<void> {
  const bench = join(ctx.root, 'test', 'bench');
  const binDir = join(ctx.tmp, 'scale-bin');
  await mkdir(binDir, { recursive: true });
  const client = await ctx.compile('pald-client-static', [join(bench, 'client.c')], ['-static', '-pthread']);
  await execFileAsync('cp', [client, join(binDir, 'client')]);

  let dockerd: TestDockerd | undefined;
  let pald: TestPald | undefined;
  const containers: string[] = [];
  const before = process.env.PAL_FAST_PATH;
  try {
    dockerd = await startDockerd();
    const image = await dockerd.importBusyboxImage('pal-bench/scale:1', { 'pal.labels': 'bench' });
    process.env.PAL_FAST_PATH = '1';
    pald = await startPald({ dockerHost: dockerd.host });
    const sealed = Array.from({ length: FEW }, (_, i) => (i === 0 ? 'warm' : `few-${i}`));
    for (const name of sealed) await pald.seal(name, ['bench'], randomBytes(SIZE));
    const volumes = ['-v', `${pald.mountpoint}:/run/pal:ro,rslave`, '-v', `${binDir}:/bench/bin:ro`];
    // Each container reads the secret once through pald (a caller pald has attributed), then idles.
    const start = async (name: string): Promise<void> => {
      const script = 'cat /run/pal/warm >/dev/null; exec sleep 3600';
      await dockerd!.docker('run', '-d', '--name', name, '--network', 'none', ...volumes, image, 'sh', '-c', script);
      containers.push(name);
    };
    const startMany = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i += START_BATCH) {
        const batch = Array.from({ length: Math.min(START_BATCH, to - i) }, (_, j) => start(`scale-c-${i + j}`));
        await Promise.all(batch);
      }
    };
    await startMany(0, FEW);
    const inside = 'scale-c-0';

    const measure = async (suite: string, name: string, floor: boolean): Promise<void> => {
      const ms = [String(Math.round(ctx.seconds * 1000)), String(ctx.warmupMs), String(SIZE)];
      const { stdout } = await execFileAsync('docker', [
        ...['-H', dockerd!.host, 'exec', inside, '/bench/bin/client', '/run/pal/warm', '1'],
        ...ms,
      ]);
      const r = JSON.parse(stdout) as { ops: number; seconds: number; p50_ns: number; p99_ns: number; errors: number };
      const [opsPerSec, p50Us, p99Us] = [r.ops / r.seconds, r.p50_ns / 1000, r.p99_ns / 1000];
      ctx.report({ suite, name, clients: 1, opsPerSec, p50Us, p99Us, errors: r.errors, floor });
    };
    const memory = async (suite: string, what: string): Promise<void> => {
      const m = await memoryKiB(pald!.pid);
      const name = `pald memory ${what}: RSS ${(m.rss / 1024).toFixed(1)} MiB, VmLck ${m.lck} KiB`;
      ctx.report({ suite, name, clients: 1 });
    };

    await measure('scale-secrets', `warm open, ${FEW} secrets (base)`, true);
    await memory('scale-secrets', `with ${FEW} secrets`);
    await growManifest(pald, sealed, MANY_SECRETS - FEW);
    await measure('scale-secrets', `warm open, ${MANY_SECRETS} secrets (× = growth)`, false);
    await memory('scale-secrets', `with ${MANY_SECRETS} secrets`);

    await measure('scale-containers', `warm open, ${FEW} containers (base)`, true);
    await memory('scale-containers', `with ${FEW} containers`);
    await startMany(FEW, MANY_CONTAINERS);
    await measure('scale-containers', `warm open, ${MANY_CONTAINERS} containers (× = growth)`, false);
    await memory('scale-containers', `with ${MANY_CONTAINERS} containers and ${MANY_SECRETS} secrets`);
  } catch (err) {
    ctx.report({
      suite: 'scale',
      name: 'scale',
      clients: 1,
      unavailable: err instanceof Error ? err.message : String(err),
    });
  } finally {
    if (before === undefined) delete process.env.PAL_FAST_PATH;
    else process.env.PAL_FAST_PATH = before;
    for (let i = 0; i < containers.length; i += START_BATCH) {
      const batch = containers.slice(i, i + START_BATCH);
      await dockerd?.docker('rm', '-f', ...batch).catch(() => undefined);
    }
    await pald?.cleanup().catch(() => undefined);
    await dockerd?.cleanup().catch(() => undefined);
  }
}
