// Running part of a test as an unprivileged uid, wherever the checkout lives. A clone under /root
// (mode 0700) cannot be traversed by uid 65534, so a child that loads the project's modules from
// the checkout dies with "Cannot find module" — a failure that has nothing to do with what the
// test means to check. The child gets what it needs copied into a private temp dir it can read,
// and nothing from the checkout.
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import type { ExecutionContext } from 'ava';

/** setpriv arguments that drop to nobody:nogroup with no supplementary groups. */
export const AS_NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'] as const;

/**
 * Copies `files` into a fresh temp dir (0755, files 0644) that any uid can read, removed at the
 * test's end. Returns the copies' paths, by the original file's base name.
 */
export async function copyForAnyUid(
  t: ExecutionContext,
  files: readonly string[],
): Promise<{ dir: string; paths: Map<string, string> }> {
  const dir = await mkdtemp(join(tmpdir(), 'pal-anyuid-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await chmod(dir, 0o755);
  const paths = new Map<string, string>();
  for (const file of files) {
    const copy = join(dir, basename(file));
    await copyFile(file, copy);
    await chmod(copy, 0o644);
    paths.set(basename(file), copy);
  }
  return { dir, paths };
}

/**
 * A dependency-free admin-socket client for `node -e`: connects to argv[1], sends one request
 * line (argv[2]) and prints the first reply line. Needs no module from the checkout.
 */
export const ADMIN_PROBE_SCRIPT = `
const s = require('node:net').connect(process.argv[1]);
let got = '';
s.setEncoding('utf8');
s.on('connect', () => s.write(process.argv[2] + '\\n'));
s.on('data', (d) => {
  got += d;
  const nl = got.indexOf('\\n');
  if (nl >= 0) { process.stdout.write(got.slice(0, nl)); s.destroy(); }
});
s.on('error', (e) => { process.stderr.write('probe: ' + e.message); process.exitCode = 3; });
`;
