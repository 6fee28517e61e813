// Scale rows of issue 14: the per-open cost of a warm open+read+close from inside a container
// must stay flat from 10 to 10,000 secrets in the manifest and from 10 to 200 running containers
// that have read through pald; and pald's RSS and locked memory (VmLck) with them, above all in
// the goal configuration: 1,000 secrets and 200 containers reading (RSS ≤ 150 MiB, VmLck ≤
// the distinct plaintexts read, in the whole pages the addon locks). Each pair is its own suite
// whose small case is the "floor", so the × column is the growth ratio of ops/s (small ÷ large)
// and the row name gives the growth of p50; medians over rounds, the two manifests alternating
// round by round. Real containers, not simulated callers; BENCH_CONTAINERS lowers the large count
// on a slow machine. Fast path on (PAL_FAST_PATH=1). The containers started here also give the
// identity suite its attribution rows with 10 and 200 containers (one set of containers, not two).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

import { startDockerd, type TestDockerd } from '../../../scripts/components/dockerd.js';
import { startPald, type TestPald } from '../../helpers/pald.js';
import { waitFor } from '../../helpers/wait.js';
import { failureReason, type BenchContext } from '../harness.js';
import { attributionRows } from './identity.js';

const execFileAsync = promisify(execFile);
const SIZE = 64;
const FEW = 10;
const MANY_SECRETS = 10_000;
/** The memory goal is stated for this many secrets (and MANY_CONTAINERS reading). */
const GOAL_SECRETS = 1_000;
/** Distinct secrets (own plaintexts) the containers read, beside `warm`. */
const DISTINCT = 4;
const PAGE = 4096;
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
  const before = await manifestStatus(pald);
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
  // pald's manifest watcher reloads it (a SIGHUP on top would parse 10,000 entries twice); a
  // reload of 10,000 entries can take tens of seconds on a loaded machine.
  const want = names.length + extra;
  await waitFor(
    `pald to load ${want} secrets`,
    async () => {
      const now = await manifestStatus(pald);
      return now.generation > before.generation && now.entries === want;
    },
    { timeoutMs: 240_000, intervalMs: 500 },
  );
}

/** Entries and generation of the manifest pald serves (`pal status --json`). */
async function manifestStatus(pald: TestPald): Promise<{ entries: number; generation: number }> {
  const r = await pald.pal('status', '--json');
  if (r.code !== 0) throw new Error(`pal status failed: ${r.stderr}`);
  const m = (JSON.parse(r.stdout) as { manifest: { entries: number; generation: number } }).manifest;
  return { entries: m.entries, generation: m.generation };
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
  const pids: number[] = [];
  const before = process.env.PAL_FAST_PATH;
  try {
    dockerd = await startDockerd();
    const image = await dockerd.importBusyboxImage('pal-bench/scale:1', { 'pal.labels': 'bench' });
    process.env.PAL_FAST_PATH = '1';
    pald = await startPald({ dockerHost: dockerd.host });
    // A few pal seals (a node process each, one after another: each edits the manifest); the
    // other entries are copies of warm's ciphertext (never decrypted: sealed for another name).
    const sealed = ['warm', ...Array.from({ length: DISTINCT }, (_, i) => `distinct-${i}`)];
    for (const name of sealed) await pald.seal(name, ['bench'], randomBytes(SIZE));
    const volumes = ['-v', `${pald.mountpoint}:/run/pal:ro,rslave`, '-v', `${binDir}:/bench/bin:ro`];
    // Each container reads `warm` and one distinct secret once through pald, then idles.
    const start = async (i: number): Promise<void> => {
      const name = `scale-c-${i}`;
      const script = `cat /run/pal/warm /run/pal/distinct-${i % DISTINCT} >/dev/null; exec sleep 3600`;
      await dockerd!.docker('run', '-d', '--name', name, '--network', 'none', ...volumes, image, 'sh', '-c', script);
      containers.push(name);
    };
    // The containers' init pids for the identity rows: one `docker inspect` for all of them
    // (a docker CLI process per container costs seconds on a loaded machine).
    const inspectPids = async (): Promise<void> => {
      const out = await dockerd!.docker('inspect', '-f', '{{.State.Pid}}', ...containers);
      pids.splice(0, pids.length, ...out.trim().split(/\s+/).map(Number));
    };
    const startMany = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i += START_BATCH) {
        ctx.signal.throwIfAborted();
        await Promise.all(Array.from({ length: Math.min(START_BATCH, to - i) }, (_, j) => start(i + j)));
      }
    };
    await startMany(0, FEW);
    const inside = 'scale-c-0';

    // Two rounds: each secrets round reloads a 10,000-entry manifest, and the bench has 8 minutes.
    const rounds = Math.max(1, Math.min(2, ctx.rounds));
    const once = async (): Promise<Sample> => {
      const ms = [String(Math.round((ctx.seconds / rounds) * 1000)), String(ctx.warmupMs), String(SIZE)];
      const { stdout } = await execFileAsync(
        'docker',
        [...['-H', dockerd!.host, 'exec', inside, '/bench/bin/client', '/run/pal/warm', '1'], ...ms],
        { signal: ctx.signal },
      );
      const r = JSON.parse(stdout) as { ops: number; seconds: number; p50_ns: number; p99_ns: number; errors: number };
      return { opsPerSec: r.ops / r.seconds, p50Us: r.p50_ns / 1000, p99Us: r.p99_ns / 1000, errors: r.errors };
    };
    const report = (suite: string, what: string, small: Sample, large: Sample, largeCount: number): void => {
      const growth = (large.p50Us / small.p50Us).toFixed(2);
      ctx.report({ suite, name: `warm open, ${FEW} ${what} (base)`, clients: 1, ...small, floor: true });
      ctx.report({ suite, name: `warm open, ${largeCount} ${what} (p50 ×${growth})`, clients: 1, ...large });
    };
    const memory = async (suite: string, what: string, goal = ''): Promise<void> => {
      const m = await memoryKiB(pald!.pid);
      const name = `pald memory ${what}: RSS ${(m.rss / 1024).toFixed(1)} MiB, VmLck ${m.lck} KiB${goal}`;
      ctx.report({ suite, name, clients: 1 });
    };
    const identityRows = async (): Promise<void> => {
      await inspectPids();
      for (const row of await attributionRows(dockerd!, pids)) {
        const { suite, name, note, opsPerSec, p50us, p99us } = row;
        ctx.report({
          suite,
          name: note ? `${name} (${note})` : name,
          clients: 1,
          opsPerSec,
          p50Us: p50us,
          p99Us: p99us,
        });
      }
    };

    await identityRows();
    await memory('scale-containers', `with ${sealed.length} secrets and ${FEW} containers`);
    // Containers first, with the goal's 1,000 secrets, so that the goal's memory row is of a pald
    // that never held more (V8 keeps a heap it grew once: a 10,000-secret phase before would show
    // in RSS). Started containers cannot be taken back cheaply: the rounds run before and after.
    await writeManifest(pald, sealed, GOAL_SECRETS - sealed.length);
    const fewC: Sample[] = [];
    for (let r = 0; r < rounds; r++) fewC.push(await once());
    await startMany(FEW, MANY_CONTAINERS);
    const manyC: Sample[] = [];
    for (let r = 0; r < rounds; r++) manyC.push(await once());
    report('scale-containers', `containers, ${GOAL_SECRETS} secrets`, summary(fewC), summary(manyC), MANY_CONTAINERS);
    await identityRows();
    const plaintextKiB = (sealed.length * Math.ceil(SIZE / PAGE) * PAGE) / 1024;
    await memory(
      'scale-containers',
      `with ${GOAL_SECRETS} secrets, ${MANY_CONTAINERS} containers reading`,
      ` (goal ≤ 150 MiB, ≤ ${plaintextKiB} KiB: ${sealed.length} plaintexts × 1 page)`,
    );

    // Secrets: the two manifests alternate round by round (a reload between), 200 containers running.
    const few: Sample[] = [];
    const many: Sample[] = [];
    for (let r = 0; r < rounds; r++) {
      await writeManifest(pald, sealed, FEW - sealed.length);
      few.push(await once());
      await writeManifest(pald, sealed, MANY_SECRETS - sealed.length);
      many.push(await once());
    }
    report('scale-secrets', 'secrets', summary(few), summary(many), MANY_SECRETS);
    await memory('scale-secrets', `with ${MANY_SECRETS} secrets, ${MANY_CONTAINERS} containers`);
  } catch (err) {
    ctx.report({
      suite: 'scale',
      name: 'scale',
      clients: 1,
      unavailable: failureReason(err, ctx.signal),
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
