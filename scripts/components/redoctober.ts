// Starts a real Red October server (Debian's golang-redoctober, /usr/sbin/redoctober) for
// integration tests: a throwaway TLS certificate made with openssl, a fresh vault in a temp dir,
// loopback ports. Stopped by pid; restartable on the same vault (delegations live in memory only).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RoClient } from '../../src/crypto/redoctober/client.js';
import { freePort } from './notary.js';
import { waitFor } from './wait.js';

export const REDOCTOBER_BIN = '/usr/sbin/redoctober';

export interface TestRedOctober {
  readonly dir: string;
  readonly url: string;
  readonly caFile: string;
  /** Calls the API; throws unless Status is "ok"; returns the reply body. */
  call(path: string, body: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** The remaining uses of each live delegation, by owner name (an admin-only /summary). */
  uses(admin: { Name: string; Password: string }): Promise<Record<string, number>>;
  output(): string;
  stop(): Promise<void>;
  start(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function startRedOctober(): Promise<TestRedOctober> {
  const dir = await mkdtemp(join(tmpdir(), 'pal-ro-'));
  const caFile = join(dir, 'server.crt');
  const keyFile = join(dir, 'server.key');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', caFile, '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ]).catch((e: { stderr?: string; message: string }) => {
    throw new Error(`openssl: ${e.stderr ?? e.message}`);
  }); // prettier-ignore
  const port = await freePort();
  const metricsPort = await freePort();
  const url = `https://127.0.0.1:${port}`;
  const client = new RoClient({ server: url, ca: await readFile(caFile), maxResponseBytes: 64 << 20, attempts: 1 });
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let log = '';

  const call = async (path: string, body: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const reply = await client.call(path, body);
    if (reply.status !== 'ok') throw new Error(`Red October ${path}: ${reply.status}`);
    return reply.body;
  };
  const start = async (): Promise<void> => {
    const c = spawn(
      REDOCTOBER_BIN,
      ['-addr', `127.0.0.1:${port}`, '-vaultpath', join(dir, 'vault.json'), '-certs', caFile, '-keys', keyFile,
       '-metrics-host', '127.0.0.1', '-metrics-port', String(metricsPort)], // prettier-ignore
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = c;
    exited = new Promise((r) => c.once('exit', () => r()));
    c.stdout.on('data', (b: Buffer) => (log += b.toString('utf8')));
    c.stderr.on('data', (b: Buffer) => (log += b.toString('utf8')));
    // Any reply with a Status means it answers (an unknown account is refused, and that is fine).
    await waitFor('redoctober to answer', async () => {
      if (c.exitCode !== null) throw new Error(`redoctober exited: ${log}`);
      return client.call('/owners', { Data: '' }).then(
        () => true,
        () => false,
      );
    });
  };
  const stop = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  return {
    dir,
    url,
    caFile,
    call,
    async uses(admin) {
      const live = (await call('/summary', admin))['Live'] as Record<string, { Uses: number }> | null;
      return Object.fromEntries(Object.entries(live ?? {}).map(([k, v]) => [k, v.Uses]));
    },
    output: () => log,
    stop,
    start,
    async cleanup() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
