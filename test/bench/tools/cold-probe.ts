// One-off probe of the cold path (not a suite): a private dockerd and one pald; a first container
// decrypts `warm`, then each sample is the first open by a process of a container that opened
// nothing before: "goal" = `warm` (image trusted and plaintext decrypted already), "decrypt" = a
// secret never decrypted, "run" = `docker run` whose first command is the open (races the start
// event), "idle" = `warm` in a container started before all the others (idle since its start, as
// the pald suite's goal row). `node dist/test/bench/tools/cold-probe.js [samples]`; PALD_DEBUG=1
// shows pald's log.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startDockerd, type TestDockerd } from '../../../scripts/components/dockerd.js';
import { compileC } from '../harness.js';
import { startPald, type TestPald } from '../../helpers/pald.js';

const SAMPLES = Number(process.argv[2] ?? 8);
/** The C sources next to the compiled probe's TypeScript (dist/test/bench/tools → test/bench). */
const BENCH_DIR = fileURLToPath(new URL('../../../../test/bench/', import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function main(): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'pal-cold-probe-'));
  let dockerd: TestDockerd | undefined;
  let pald: TestPald | undefined;
  const names: string[] = [];
  try {
    await compileC(join(tmp, 'coldopen'), [join(BENCH_DIR, 'coldopen.c')], ['-static']);
    dockerd = await startDockerd();
    const image = await dockerd.importBusyboxImage('pal-probe/cold:1', { 'pal.labels': 'bench' });
    pald = await startPald({ dockerHost: dockerd.host });
    await pald.seal('warm', ['bench'], randomBytes(64));
    for (let i = 0; i < SAMPLES; i++) await pald.seal(`cold-${i}`, ['bench'], randomBytes(64));
    const mounts = ['-v', `${pald.mountpoint}:/run/pal:ro,rslave`, '-v', `${tmp}:/probe:ro`];
    const d = dockerd;
    const docker = (...args: string[]): Promise<string> => d.docker(...args);
    const open = async (name: string, path: string): Promise<number> => {
      const out = await docker('exec', name, '/probe/coldopen', path);
      const r = JSON.parse(out) as { ns: number; bytes: number };
      if (r.bytes !== 64) throw new Error(`${name}: read ${r.bytes} bytes of ${path}`);
      return r.ns / 1e6;
    };
    const start = async (name: string): Promise<void> => {
      await docker('run', '-d', '--name', name, '--network', 'none', ...mounts, image, 'sleep', '3600');
      names.push(name);
    };
    for (let i = 0; i < SAMPLES; i++) await start(`probe-idle-${i}`);
    await start('probe-first');
    console.log(`first container, first decrypt: ${(await open('probe-first', '/run/pal/warm')).toFixed(2)} ms`);
    // COLD_PROBE_IDLE_S: the idle containers' first samples wait this long after their start (past
    // the trust recheck of 30 s, their sponsors have been decided again since).
    const idleMs = Number(process.env.COLD_PROBE_IDLE_S ?? 0) * 1000;
    if (idleMs > 0) await new Promise((r) => setTimeout(r, idleMs));
    const idle: number[] = [];
    const goal: number[] = [];
    const decrypt: number[] = [];
    const run: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      await start(`probe-goal-${i}`);
      await start(`probe-decrypt-${i}`);
      goal.push(await open(`probe-goal-${i}`, '/run/pal/warm'));
      idle.push(await open(`probe-idle-${i}`, '/run/pal/warm'));
      decrypt.push(await open(`probe-decrypt-${i}`, `/run/pal/cold-${i}`));
      const name = `probe-run-${i}`;
      names.push(name);
      const out = await docker(
        'run',
        '--name',
        name,
        '--network',
        'none',
        ...mounts,
        image,
        '/probe/coldopen',
        '/run/pal/warm',
      );
      run.push((JSON.parse(out) as { ns: number }).ns / 1e6);
    }
    const show = (label: string, xs: number[]): void =>
      console.log(`${label}: p50 ${median(xs).toFixed(2)} ms  [${xs.map((x) => x.toFixed(2)).join(' ')}]`);
    show('new container, decrypted already (started a moment before)', goal);
    show('new container idle since its start, decrypted already', idle);
    show('new container + first decrypt (started earlier)', decrypt);
    show('docker run whose first command opens (decrypted already)', run);
  } finally {
    for (const name of names) await dockerd?.docker('rm', '-f', name).catch(() => undefined);
    await pald?.cleanup().catch(() => undefined);
    await dockerd?.cleanup().catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
