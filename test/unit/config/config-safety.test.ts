// File safety (SPEC §3) for pald.yaml and the Notary trust store (CA file).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config/index.js';
import { createTrustService } from '../../../src/trust/index.js';

const dirs: string[] = [];
test.after.always(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function fresh(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pal-config-safety-'));
  dirs.push(dir);
  return dir;
}

test('loadConfig refuses a config others can write or own, naming file, owner and mode', async (t) => {
  const dir = await fresh();
  const file = path.join(dir, 'pald.yaml');
  await writeFile(file, 'mountpoint: /run/pal-x\n');
  t.is((await loadConfig(file, {})).mountpoint, '/run/pal-x');
  await chmod(file, 0o666);
  await t.throwsAsync(loadConfig(file, {}), {
    message: `config ${file}: mode 0666 is writable by group or others (owner uid 0)`,
  });
  await chmod(file, 0o644);
  await chown(file, 4242, 4242);
  await t.throwsAsync(loadConfig(file, {}), {
    message: `config ${file}: owned by uid 4242 (mode 0644), not by root or pald's uid`,
  });
  await chown(file, 0, 0);
  await chmod(dir, 0o770);
  await t.throwsAsync(loadConfig(file, {}), {
    message: new RegExp(`directory ${dir} \\(owner uid 0, mode 0770\\) is writable by group or others`),
  });
});

test('loadConfig refuses a FIFO at once instead of blocking on it', async (t) => {
  t.timeout(30_000);
  const dir = await fresh();
  const file = path.join(dir, 'pald.yaml');
  execFileSync('mkfifo', ['-m', '0600', file]);
  await t.throwsAsync(loadConfig(file, {}), { message: /not a regular file/ });
});

test('a Notary CA file others can write makes the trust service refuse to start; a safe or absent one does not', async (t) => {
  const dir = await fresh();
  const ca = path.join(dir, 'notary-ca.pem');
  await writeFile(ca, '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
  await chmod(ca, 0o664);
  const config = {
    mode: 'notary' as const,
    notary: { server: 'https://127.0.0.1:1', ca, collections: [], timeoutMs: 1000 },
  };
  t.throws(() => createTrustService(config, { log: () => {} }), {
    message: `trust store ${ca}: mode 0664 is writable by group or others (owner uid 0)`,
  });
  await chmod(ca, 0o644);
  const ok = createTrustService(config, { log: () => {} });
  await ok.close();
  const absent = createTrustService(
    { ...config, notary: { ...config.notary, ca: path.join(dir, 'none.pem') } },
    { log: () => {} },
  );
  await absent.close();
  t.pass();
});
