// The bench's C programs build against the current native sources. The bench is not part of `npm test`,
// so without this a change to native/src (a new pal_fuse_install_io signature, say) broke `npm run bench`
// unnoticed: the C floor is compiled from the addon's own session I/O (fuse_io.c) so both run alike.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { compileC } from '../../bench/harness.js';

const execFileAsync = promisify(execFile);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const bench = path.join(repo, 'test', 'bench');
const nativeSrc = path.join(repo, 'native', 'src');

async function builds(t: import('ava').ExecutionContext, sources: string[], flags: string[]): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pal-bench-build-'));
  try {
    const out = await compileC(path.join(dir, 'prog'), sources, [...flags, '-Werror']);
    t.truthy(out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('the C floor builds with the addon session I/O', async (t) => {
  const { stdout } = await execFileAsync('pkg-config', ['--cflags', '--libs', 'fuse3']);
  await builds(
    t,
    [path.join(bench, 'cfloor', 'floor.c'), path.join(nativeSrc, 'fuse_io.c')],
    [`-I${nativeSrc}`, ...stdout.trim().split(/\s+/)],
  );
});

test('the in-container client, the cold-open probe, the pin-guard and idle-cold probes and the open loop build', async (t) => {
  await builds(t, [path.join(bench, 'client.c')], ['-pthread']);
  await builds(t, [path.join(bench, 'coldopen.c')], []);
  await builds(t, [path.join(bench, 'tools', 'pin-guard.c')], []);
  await builds(t, [path.join(bench, 'tools', 'idle-cold.c')], []);
  await builds(t, [path.join(bench, 'openloop.c')], []);
});
