// One-off memory probe (not a suite): starts pald (no containers), grows its manifest to N
// secrets and prints RSS, VmLck and the big anonymous mappings after each step; with
// PALD_NODE_ARGS=--heapsnapshot-signal=SIGUSR2 it also asks pald for a heap snapshot (written to
// pald's cwd). `node dist/test/bench/tools/mem-probe.js 10000`
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { startDockerd } from '../../../scripts/components/dockerd.js';
import { startPald, type TestPald } from '../../helpers/pald.js';
import { waitFor } from '../../helpers/wait.js';

const N = Number(process.argv[2] ?? 10_000);

async function status(pid: number): Promise<string> {
  const s = await readFile(`/proc/${pid}/status`, 'utf8');
  const f = (k: string): string => new RegExp(`^${k}:\\s+(.*)$`, 'm').exec(s)?.[1] ?? '?';
  const smaps = await readFile(`/proc/${pid}/smaps`, 'utf8');
  // Biggest resident mappings (anonymous ones are the V8 heaps and malloc arenas).
  const maps: { head: string; rss: number }[] = [];
  let head = '';
  for (const line of smaps.split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) head = line;
    const m = /^Rss:\s+(\d+) kB/.exec(line);
    if (m) maps.push({ head, rss: Number(m[1]) });
  }
  maps.sort((a, b) => b.rss - a.rss);
  const top = maps
    .slice(0, 6)
    .map((m) => `    ${m.rss} kB ${m.head.split(/\s+/).slice(0, 1).join(' ')} ${m.head.split(/\s+/)[5] ?? '[anon]'}`);
  return `RSS ${f('VmRSS')} (anon ${f('RssAnon')}, file ${f('RssFile')}), VmLck ${f('VmLck')}, threads ${f('Threads')}\n${top.join('\n')}`;
}

async function manifest(pald: TestPald, extra: number): Promise<void> {
  const dir = dirname(pald.manifest);
  const entry = (name: string, file: string): string =>
    `  ${name}:\n    file: ${file}\n    labels: [bench]\n    mode: "0400"\n`;
  const lines = [entry('warm', 'warm.pgp')];
  for (let i = 0; i < extra; i++) {
    const copy = join(dir, `scale-${i}.pgp`);
    if (!existsSync(copy)) await copyFile(join(dir, 'warm.pgp'), copy);
    lines.push(entry(`scale-${i}`, `scale-${i}.pgp`));
  }
  await writeFile(`${pald.manifest}.tmp`, 'secrets:\n' + lines.join(''));
  const marker = (pald.output().match(/pald: reloaded/g) ?? []).length;
  const t0 = Date.now();
  await rename(`${pald.manifest}.tmp`, pald.manifest);
  process.kill(pald.pid, 'SIGHUP');
  await waitFor('reload', async () => (pald.output().match(/pald: reloaded/g) ?? []).length > marker, {
    timeoutMs: 300_000,
    intervalMs: 200,
  });
  console.log(`  reload of ${extra + 1} secrets: ${Date.now() - t0} ms`);
}

const dockerd = await startDockerd();
const pald = await startPald({ dockerHost: dockerd.host, hostAllowUids: [0] });
try {
  await pald.seal('warm', ['bench'], randomBytes(64));
  console.log(`start: ${await status(pald.pid)}`);
  await manifest(pald, N - 1);
  console.log(`${N} secrets: ${await status(pald.pid)}`);
  await manifest(pald, N - 1);
  console.log(`${N} secrets, one more reload: ${await status(pald.pid)}`);
  if ((process.env.PALD_NODE_ARGS ?? '').includes('heapsnapshot-signal')) {
    const cwd = process.cwd();
    const before = new Set(await readdir(cwd));
    process.kill(pald.pid, 'SIGUSR2');
    // Done when the new snapshot file ends with its closing bracket.
    await waitFor(
      'heap snapshot',
      async () => {
        const f = (await readdir(cwd)).find((n) => n.endsWith('.heapsnapshot') && !before.has(n));
        if (!f) return false;
        const text = await readFile(join(cwd, f), 'utf8');
        return text.trimEnd().endsWith('}');
      },
      { timeoutMs: 300_000, intervalMs: 1000 },
    );
    console.log(`after snapshot (full GC): ${await status(pald.pid)}`);
  }
} finally {
  // A pald still writing its snapshot may refuse to stop cleanly: stop dockerd whatever happens.
  await pald.cleanup().catch((err: unknown) => console.error(`pald cleanup: ${String(err)}`));
  await dockerd.cleanup();
}
