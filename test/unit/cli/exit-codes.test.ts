// pal and pald as an operator meets them: exit codes and one-line errors (no mount needed).
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand, PAL_JS, PALD_JS } from '../../helpers/pald.js';
import { unreachableHint } from '../../../src/cli/unreachable-hint.js';

test('pald: a missing or invalid config is one clear line and exit 1', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pal-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const missing = await runCommand(process.execPath, [PALD_JS, '--config', join(dir, 'nope.yaml')]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /^pald: cannot start: .*nope\.yaml.*\n$/);

  const bad = join(dir, 'pald.yaml');
  await writeFile(bad, 'mountpoint: /run/pal\nmountpiont: /oops\n');
  const invalid = await runCommand(process.execPath, [PALD_JS, '--config', bad]);
  t.is(invalid.code, 1);
  t.is(invalid.stderr.trim().split('\n').length, 1, invalid.stderr);
  t.regex(invalid.stderr, /pald\.yaml.*2.*mountpiont/);

  const usage = await runCommand(process.execPath, [PALD_JS, '--bogus']);
  t.is(usage.code, 2);
});

test('pal: usage errors exit 2, an unreachable pald exits 3', async (t) => {
  t.is((await runCommand(process.execPath, [PAL_JS])).code, 2);
  t.is((await runCommand(process.execPath, [PAL_JS, 'frobnicate'])).code, 2);
  t.is((await runCommand(process.execPath, [PAL_JS, 'explain', 'only-one'])).code, 2);
  t.is((await runCommand(process.execPath, [PAL_JS, 'status', '--follow'])).code, 2);
  const down = await runCommand(process.execPath, [PAL_JS, 'secrets', '--admin-socket', '/nonexistent/admin.sock']);
  t.is(down.code, 3);
  t.regex(down.stderr, /cannot reach pald/);
  const whoami = await runCommand(process.execPath, [PAL_JS, 'whoami', '--mountpoint', '/nonexistent']);
  t.is(whoami.code, 3);
});

test('pal: an unreachable pald says how to start it; a non-root caller is told why', async (t) => {
  const down = await runCommand(process.execPath, [PAL_JS, 'status', '--admin-socket', '/nonexistent/admin.sock']);
  t.is(down.code, 3);
  t.regex(down.stderr, /cannot reach pald at \/nonexistent\/admin\.sock: ENOENT/);
  t.regex(down.stderr, /pald is not running/);
  t.regex(down.stderr, /systemctl start pald/);
  t.regex(down.stderr, /docker start pald/);
  t.regex(down.stderr, /pald --config \/etc\/pal\/pald\.yaml/);
  t.regex(down.stderr, /--admin-socket PATH/);
  t.regex(unreachableHint('EACCES'), /root only/);
  t.regex(unreachableHint('ECONNREFUSED'), /left/);
  t.regex(unreachableHint('ETIMEDOUT'), /did not answer/);
});
