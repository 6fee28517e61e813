// docker/pald.service: valid for systemd (`systemd-analyze verify`, from Debian's systemd package,
// when present), Type=notify, the one capability pald needs, and no directive that would give
// pald a private mount namespace (its FUSE mount would never reach the host or any container).
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');
const UNIT = join(REPO, 'docker/pald.service');
const ANALYZE = '/usr/bin/systemd-analyze';

/** `Key=value` lines of the unit (comments and sections dropped). */
async function directives(text?: string): Promise<[string, string][]> {
  const body = text ?? (await readFile(UNIT, 'utf8'));
  return body
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('['))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]);
}

function verify(unitPath: string): Promise<{ code: number; output: string }> {
  return new Promise((res) => {
    execFile(ANALYZE, ['verify', '--man=no', unitPath], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number) || 1 : 0;
      res({ code, output: String(stdout) + String(stderr) });
    });
  });
}

/** The unit with its pald path pointed at an executable that exists here (verify checks it). */
async function runnableCopy(dir: string, text: string): Promise<string> {
  const shim = join(dir, 'pald');
  await writeFile(shim, `#!/bin/sh\nexec ${process.execPath} ${join(REPO, 'dist/src/cli/pald.js')} "$@"\n`);
  await chmod(shim, 0o755);
  const unitPath = join(dir, 'pald.service');
  await writeFile(unitPath, text.replaceAll('/usr/local/bin/pald', shim));
  return unitPath;
}

test('pald.service passes systemd-analyze verify, and a broken copy does not', async (t) => {
  if (!existsSync(ANALYZE)) {
    t.log(`SKIPPED: ${ANALYZE} not installed (Debian package systemd); the other checks of the unit still run`);
    t.pass();
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'pal-unit-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const text = await readFile(UNIT, 'utf8');
  const good = await verify(await runnableCopy(dir, text));
  // systemd-analyze also reports on other units installed here; only pald.service's lines count.
  const ours = good.output.split('\n').filter((l) => l.includes('pald.service'));
  t.deepEqual(ours, [], good.output);

  const broken = await verify(await runnableCopy(dir, text.replace('Type=notify', 'Type=notfy')));
  t.true(
    broken.output.split('\n').some((l) => l.includes('pald.service')),
    broken.output,
  );
});

test('pald.service: Type=notify, reload by SIGHUP, check-config first, CAP_SYS_ADMIN only', async (t) => {
  const d = new Map(await directives());
  t.is(d.get('Type'), 'notify');
  t.is(d.get('NotifyAccess'), 'main');
  t.regex(d.get('ExecStartPre') ?? '', /pald --check-config --config \/etc\/pal\/pald\.yaml$/);
  t.regex(d.get('ExecReload') ?? '', /kill -HUP \$MAINPID/);
  t.is(d.get('CapabilityBoundingSet'), 'CAP_SYS_ADMIN');
  t.is(d.get('NoNewPrivileges'), 'yes');
  t.is(d.get('DeviceAllow'), '/dev/fuse rw');
});

test('pald.service has no directive that gives pald a mount namespace of its own', async (t) => {
  const namespacing = [
    'ProtectSystem',
    'ReadWritePaths',
    'ReadOnlyPaths',
    'InaccessiblePaths',
    'PrivateTmp',
    'PrivateDevices',
    'PrivateMounts',
    'ProtectHome',
    'ProtectKernelTunables',
    'ProtectKernelModules',
    'ProtectKernelLogs',
    'ProtectControlGroups',
    'ProtectProc',
    'ProcSubset',
    'BindPaths',
    'BindReadOnlyPaths',
    'TemporaryFileSystem',
    'MountFlags',
    'RootDirectory',
    'RootImage',
  ];
  const present = (await directives()).map(([k]) => k).filter((k) => namespacing.includes(k));
  t.deepEqual(present, []);
  // The check itself can fail:
  t.deepEqual(
    (await directives('[Service]\nProtectSystem=strict\n')).map(([k]) => k).filter((k) => namespacing.includes(k)),
    ['ProtectSystem'],
  );
});
