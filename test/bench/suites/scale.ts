// Scale rows of issue 14: the per-open cost of a warm open+read+close from inside a container
// must stay flat from 10 to 10,000 secrets in the manifest and from 10 to 200 running containers
// that have read through pald; and pald's RSS and locked memory (VmLck) with them. Each pair is
// its own suite whose small case is the "floor", so the × column is the growth ratio of ops/s
// (small ÷ large) and the row name gives the growth of p50; medians over BENCH_ROUNDS rounds, the
// two manifests alternating round by round. Real containers, not simulated callers;
// BENCH_CONTAINERS lowers the large count on a slow machine. Fast path on (PAL_FAST_PATH=1).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

import { startDockerd, type TestDockerd } from '../../../scripts/components/dockerd.js';
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

/** One timed client run: ops/s, p50 and p99 in µs, errors. */
interface Sample {
  readonly opsPerSec: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly errors: number;
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** Medians over rounds: load on a shared machine comes and goes, and weighs on both cases alike. */
function summary(samples: readonly Sample[]): Sample {
  return {
    opsPerSec: median(samples.map((x) => x.opsPerSec)),
    p50Us: median(samples.map((x) => x.p50Us)),
    p99Us: median(samples.map((x) => x.p99Us)),
    errors: samples.reduce((n, x) => n + x.errors, 0),
  };
}

/**
 * The manifest in block style: the sealed `names` (pal seal writes NAME.pgp next to it) and
 * `extra` more entries, each with its own copy of the first name's ciphertext (made once); reloads.
 */
async function writeManifest(pald: TestPald, names: readonly string[], extra: number): Promise<void> {
  const dir = dirname(pald.manifest);
  const entry = (name: string, file: string): string =>
    `  ${name}:\n    file: ${file}\n    labels: [bench]\n    mode: "0400"\n`;
  const lines = names.map((name) => entry(name, `${name}.pgp`));
  for (let i = 0; i < extra; i++) {
    const copy = join(dir, `scale-${i}.pgp`);
    if (!existsSync(copy)) await copyFile(join(dir, `${names[0]}.pgp`), copy);
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
    // One pal seal (a node process each); the other entries are copies of its ciphertext.
    const sealed = ['warm'];
    await pald.seal('warm', ['bench'], randomBytes(SIZE));
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

    // At most 3 rounds: each secrets round reloads a 10,000-entry manifest, and the bench has 8 minutes.
    const rounds = Math.max(1, Math.min(3, ctx.rounds));
    const once = async (): Promise<Sample> => {
      const ms = [String(Math.round((ctx.seconds / rounds) * 1000)), String(ctx.warmupMs), String(SIZE)];
      const { stdout } = await execFileAsync('docker', [
        ...['-H', dockerd!.host, 'exec', inside, '/bench/bin/client', '/run/pal/warm', '1'],
        ...ms,
      ]);
      const r = JSON.parse(stdout) as { ops: number; seconds: number; p50_ns: number; p99_ns: number; errors: number };
      return { opsPerSec: r.ops / r.seconds, p50Us: r.p50_ns / 1000, p99Us: r.p99_ns / 1000, errors: r.errors };
    };
    const report = (suite: string, what: string, small: Sample, large: Sample): void => {
      const growth = (large.p50Us / small.p50Us).toFixed(2);
      ctx.report({ suite, name: `warm open, ${FEW} ${what} (base)`, clients: 1, ...small, floor: true });
      const name = `warm open, ${suite === 'scale-secrets' ? MANY_SECRETS : MANY_CONTAINERS} ${what} (p50 ×${growth})`;
      ctx.report({ suite, name, clients: 1, ...large });
    };
    const memory = async (suite: string, what: string): Promise<void> => {
      const m = await memoryKiB(pald!.pid);
      const name = `pald memory ${what}: RSS ${(m.rss / 1024).toFixed(1)} MiB, VmLck ${m.lck} KiB`;
      ctx.report({ suite, name, clients: 1 });
    };

    await memory('scale-secrets', `with ${FEW} secrets and ${FEW} containers`);
    // Secrets: the two manifests alternate round by round (a reload between).
    const few: Sample[] = [];
    const many: Sample[] = [];
    for (let r = 0; r < rounds; r++) {
      await writeManifest(pald, sealed, FEW - 1);
      few.push(await once());
      await writeManifest(pald, sealed, MANY_SECRETS - 1);
      many.push(await once());
    }
    report('scale-secrets', 'secrets', summary(few), summary(many));
    await memory('scale-secrets', `with ${MANY_SECRETS} secrets`);

    // Containers: started ones cannot be taken back cheaply, so the rounds run before and after.
    const fewC: Sample[] = [];
    for (let r = 0; r < rounds; r++) fewC.push(await once());
    await startMany(FEW, MANY_CONTAINERS);
    const manyC: Sample[] = [];
    for (let r = 0; r < rounds; r++) manyC.push(await once());
    report('scale-containers', 'containers', summary(fewC), summary(manyC));
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
