// A throwaway notary-server for the tests and the demo (memory storage, TLS with openssl-made certs,
// 127.0.0.1), the real `notary` CLI, and a metadata proxy we control for serving tampered/crafted files.
// Everything started here is stopped by its pid; callers register stop() with t.teardown/after.always.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from './wait.js';
import { stopChild } from './stop-child.js';

const run = promisify(execFile);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** GET over HTTPS with our CA; resolves status and body. */
export function httpsGet(url: string, ca: string | Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, agent: false, timeout: 2000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export interface TestPki {
  readonly dir: string;
  readonly caPath: string;
  readonly ca: string;
  readonly certPath: string;
  readonly keyPath: string;
}

/** A throwaway CA and a server certificate for localhost/127.0.0.1, made with openssl. */
export async function makeTestPki(dir: string): Promise<TestPki> {
  const p = (f: string) => path.join(dir, f);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=pal test CA',
  ]);
  await run('openssl', [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    p('server.key'),
    '-out',
    p('server.csr'),
    '-subj',
    '/CN=notary-server',
  ]);
  await writeFile(p('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    p('server.csr'),
    '-CA',
    p('ca.pem'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    p('ext.cnf'),
    '-out',
    p('server.crt'),
  ]);
  return {
    dir,
    caPath: p('ca.pem'),
    ca: await readFile(p('ca.pem'), 'utf8'),
    certPath: p('server.crt'),
    keyPath: p('server.key'),
  };
}

export interface NotaryServer {
  readonly url: string;
  readonly port: number;
  readonly pki: TestPki;
  readonly dir: string;
  readonly pid: number;
  running(): boolean;
  stop(): Promise<void>;
}

async function spawnUntilHealthy(
  what: string,
  command: string,
  configFor: (port: number) => object,
  dir: string,
  healthy: (port: number) => Promise<boolean>,
): Promise<{ child: ChildProcess; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const configPath = path.join(dir, `${what}-${port}.json`);
    await writeFile(configPath, JSON.stringify(configFor(port)));
    const child = spawn(command, ['-config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    try {
      await waitFor(
        `${what} ready`,
        async () => {
          if (child.exitCode !== null) throw new Error(`${command} exited ${child.exitCode}: ${stderr}`);
          return (await healthy(port)) ? true : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 20 },
      );
      return { child, port };
    } catch (e) {
      await stopChild(child);
      // Someone took the port between our probe and the bind: try another one.
      if (attempt < 3 && /address already in use/.test(stderr)) continue;
      throw e;
    }
  }
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Start notary-server on a free loopback port, memory storage. By default with the local signing
 * service (server-held keys ed25519); with `signer: true` also a notary-signer (keys ecdsa, as in
 * production). Both are stopped together by stop().
 */
export async function startNotaryServer(
  opts: { dir?: string; pki?: TestPki; signer?: boolean } = {},
): Promise<NotaryServer> {
  for (const tool of ['notary-server', 'notary', 'openssl', ...(opts.signer ? ['notary-signer'] : [])]) {
    await run('sh', ['-c', `command -v ${tool}`]).catch(() => {
      throw new Error(`${tool} is not installed: run scripts/install-deps.sh (Debian packages notary, openssl)`);
    });
  }
  const dir = opts.dir ?? (await mkdtemp(path.join(tmpdir(), 'pal-notary-')));
  const pki = opts.pki ?? (await makeTestPki(dir));
  let signer: { child: ChildProcess; port: number } | undefined;
  if (opts.signer === true) {
    signer = await spawnUntilHealthy(
      'signer',
      'notary-signer',
      (port) => ({
        server: {
          grpc_addr: `127.0.0.1:${port}`,
          tls_cert_file: pki.certPath,
          tls_key_file: pki.keyPath,
          client_ca_file: pki.caPath,
        },
        storage: { backend: 'memory' },
        logging: { level: 'error' },
      }),
      dir,
      tcpOpen,
    );
  }
  const trustService =
    signer === undefined
      ? { type: 'local' }
      : {
          type: 'remote',
          hostname: '127.0.0.1',
          port: String(signer.port),
          key_algorithm: 'ecdsa',
          tls_ca_file: pki.caPath,
          tls_client_cert: pki.certPath,
          tls_client_key: pki.keyPath,
        };
  let server: { child: ChildProcess; port: number };
  try {
    server = await spawnUntilHealthy(
      'server',
      'notary-server',
      (port) => ({
        server: { http_addr: `127.0.0.1:${port}`, tls_cert_file: pki.certPath, tls_key_file: pki.keyPath },
        trust_service: trustService,
        storage: { backend: 'memory' },
        logging: { level: 'error' },
      }),
      dir,
      async (port) => (await httpsGet(`https://127.0.0.1:${port}/_notary_server/health`, pki.ca)).status === 200,
    );
  } catch (e) {
    if (signer) await stopChild(signer.child);
    throw e;
  }
  const { child, port } = server;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    pki,
    dir,
    pid: child.pid!,
    running: () => child.exitCode === null && child.signalCode === null,
    stop: async () => {
      await stopChild(child);
      if (signer) await stopChild(signer.child);
    },
  };
}

export const PASSPHRASE = 'pal-test-passphrase';

/** The real notary CLI against one server, with its own trust dir and passphrases from the env. */
export class NotaryCli {
  readonly trustDir: string;
  constructor(
    readonly server: NotaryServer,
    readonly dir: string,
  ) {
    this.trustDir = path.join(dir, 'trust');
  }

  static async create(server: NotaryServer): Promise<NotaryCli> {
    return new NotaryCli(server, await mkdtemp(path.join(server.dir, 'client-')));
  }

  async run(...args: string[]): Promise<string> {
    const env = {
      ...process.env,
      NOTARY_ROOT_PASSPHRASE: PASSPHRASE,
      NOTARY_TARGETS_PASSPHRASE: PASSPHRASE,
      NOTARY_SNAPSHOT_PASSPHRASE: PASSPHRASE,
      NOTARY_DELEGATION_PASSPHRASE: PASSPHRASE,
    };
    try {
      const { stdout } = await run(
        'notary',
        ['-s', this.server.url, '--tlscacert', this.server.pki.caPath, '-d', this.trustDir, ...args],
        { env, timeout: 30_000 },
      );
      return stdout;
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`notary ${args.join(' ')} failed: ${err.stderr ?? err.message}`);
    }
  }

  init(gun: string): Promise<string> {
    return this.run('init', gun, '-p');
  }

  /** Stage a target for sha256 HEX (optionally in a delegated role) with custom JSON, then publish. */
  async addHash(
    gun: string,
    name: string,
    sha256Hex: string,
    opts: { size?: number; custom?: unknown; role?: string } = {},
  ): Promise<void> {
    const args = ['addhash', gun, name, String(opts.size ?? 1), '--sha256', sha256Hex];
    if (opts.custom !== undefined) {
      const file = path.join(this.dir, `custom-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
      // Must already be canonical (sorted keys, no \u escapes), or publish fails on threshold.
      await writeFile(file, canonicalText(opts.custom));
      args.push('--custom', file);
    }
    if (opts.role !== undefined) args.push('-r', opts.role);
    await this.run(...args, '-p');
  }

  /** `notary key rotate GUN root`, answering its yes/no question (without "yes" it silently aborts). */
  rotateRoot(gun: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn(
        'notary',
        [
          '-s',
          this.server.url,
          '--tlscacert',
          this.server.pki.caPath,
          '-d',
          this.trustDir,
          'key',
          'rotate',
          gun,
          'root',
        ],
        {
          env: {
            ...process.env,
            NOTARY_ROOT_PASSPHRASE: PASSPHRASE,
            NOTARY_TARGETS_PASSPHRASE: PASSPHRASE,
            NOTARY_SNAPSHOT_PASSPHRASE: PASSPHRASE,
          },
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      );
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      child.stdin.end('yes\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        if (code === 0 && !/Aborting/.test(out)) resolve(out);
        else reject(new Error(`notary key rotate ${gun} root failed (${code}): ${out}`));
      });
    });
  }

  /** `notary init GUN --rootkey FILE`: use an imported root key (e.g. RSA) instead of a generated one. */
  async initWithRootKey(gun: string, rootKeyPem: string): Promise<string> {
    // Notary wants PKCS#8 encrypted with the root passphrase in this exact scheme, else "password invalid".
    const enc = path.join(this.dir, `root-${Date.now()}.enc`);
    await run('openssl', [
      'pkcs8',
      '-topk8',
      '-v2',
      'aes256',
      '-v2prf',
      'hmacWithSHA1',
      '-in',
      rootKeyPem,
      '-out',
      enc,
      '-passout',
      `pass:${PASSPHRASE}`,
    ]);
    return this.run('init', gun, '--rootkey', enc, '-p');
  }

  publish(gun: string): Promise<string> {
    return this.run('publish', gun);
  }

  /** The root key id `notary key list` prints (the canonical id). */
  async rootKeyId(): Promise<string> {
    const out = await this.run('key', 'list');
    const ids = out
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[0] === 'root')
      .map((f) => f[1]!);
    if (ids.length !== 1) throw new Error(`expected one root key, got: ${out}`);
    return ids[0]!;
  }

  keyImport(keyPath: string, role: string): Promise<string> {
    return this.run('key', 'import', keyPath, '--role', role);
  }

  /** Add a delegation from a certificate; paths undefined = all paths. */
  delegationAdd(gun: string, role: string, certPath: string, paths?: string[]): Promise<string> {
    const pathArgs = paths === undefined ? ['--all-paths'] : paths.flatMap((p) => ['--paths', p]);
    return this.run('delegation', 'add', gun, role, certPath, ...pathArgs, '-p');
  }

  delegationRemove(gun: string, role: string): Promise<string> {
    return this.run('delegation', 'remove', gun, role, '-y', '-p');
  }

  /** Private keys of the trust dir by role (and gun), decrypted with node:crypto. */
  async privateKeys(): Promise<Array<{ role: string; gun?: string; fileId: string; key: KeyObject }>> {
    const dir = path.join(this.trustDir, 'private');
    const out: Array<{ role: string; gun?: string; fileId: string; key: KeyObject }> = [];
    for (const f of await readdir(dir)) {
      if (!f.endsWith('.key')) continue;
      const text = await readFile(path.join(dir, f), 'utf8');
      const role = /^role: (.+)$/m.exec(text)?.[1]?.trim();
      const gun = /^gun: (.+)$/m.exec(text)?.[1]?.trim();
      // Notary's PEM carries non-standard headers that OpenSSL refuses: strip them.
      const pem = text
        .split('\n')
        .filter((l) => !/^(role|gun): /.test(l))
        .join('\n')
        .replace(/-----\n\n+/, '-----\n');
      const key = createPrivateKey({ key: pem, format: 'pem', passphrase: PASSPHRASE });
      out.push({ role: role ?? '?', ...(gun ? { gun } : {}), fileId: f.slice(0, -4), key });
    }
    return out;
  }

  async privateKey(role: string, gun?: string): Promise<KeyObject> {
    const keys = (await this.privateKeys()).filter(
      (k) => k.role === role && (gun === undefined || k.gun === undefined || k.gun === gun),
    );
    if (keys.length !== 1) throw new Error(`expected one ${role} key in ${this.trustDir}, found ${keys.length}`);
    return keys[0]!.key;
  }
}

/** GET a metadata file from the real server (current, by version "2.targets", or by hash). */
export async function serverMetadata(server: NotaryServer, gun: string, name: string): Promise<Buffer> {
  const r = await httpsGet(`${server.url}/v2/${gun}/_trust/tuf/${name}.json`, server.pki.ca);
  if (r.status !== 200) throw new Error(`GET ${name}.json of ${gun}: ${r.status} ${r.body.toString()}`);
  return r.body;
}

/** Canonical JSON for test inputs (what notary needs for --custom). */
export function canonicalText(v: unknown): string {
  if (v === null || typeof v !== 'object')
    return typeof v === 'string' ? '"' + v.replace(/["\\]/g, (m) => '\\' + m) + '"' : String(v);
  if (Array.isArray(v)) return '[' + v.map(canonicalText).join(',') + ']';
  const o = v as Record<string, unknown>;
  return (
    '{' +
    Object.keys(o)
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
      .map((k) => canonicalText(k) + ':' + canonicalText(o[k]))
      .join(',') +
    '}'
  );
}

/** An ECDSA P-256 key and self-signed certificate made with openssl (for delegations). */
export async function makeDelegationKey(dir: string, name: string): Promise<{ keyPath: string; certPath: string }> {
  const keyPath = path.join(dir, `${name}.key`);
  const certPath = path.join(dir, `${name}.crt`);
  const ec = await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout']);
  const pkcs8 = spawn('openssl', ['pkcs8', '-topk8', '-nocrypt', '-out', keyPath]);
  pkcs8.stdin.end(ec.stdout);
  await new Promise<void>((resolve, reject) =>
    pkcs8.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`openssl pkcs8 exit ${c}`)))),
  );
  await run('openssl', [
    'req',
    '-new',
    '-x509',
    '-key',
    keyPath,
    '-out',
    certPath,
    '-days',
    '30',
    '-subj',
    `/CN=${name}`,
  ]);
  return { keyPath, certPath };
}

export interface MetadataProxy {
  readonly url: string;
  /** URL path → bytes to serve instead of the upstream's answer. */
  readonly overrides: Map<string, Buffer>;
  /** Rewrites upstream answers (e.g. flip a byte); return undefined to pass through. */
  rewrite: ((urlPath: string, body: Buffer) => Buffer | undefined) | undefined;
  readonly requests: string[];
  stop(): Promise<void>;
}

/** Path of ROLE.json of GUN on a notary server. */
export function tufPath(gun: string, role: string): string {
  return `/v2/${gun}/_trust/tuf/${role}.json`;
}

/** An HTTPS server on 127.0.0.1 in front of the notary server, serving crafted or altered metadata. */
export async function startMetadataProxy(upstream: NotaryServer): Promise<MetadataProxy> {
  const [cert, key] = await Promise.all([readFile(upstream.pki.certPath), readFile(upstream.pki.keyPath)]);
  const state = {
    overrides: new Map<string, Buffer>(),
    rewrite: undefined as MetadataProxy['rewrite'],
    requests: [] as string[],
  };
  const server = https.createServer({ cert, key }, (req, res) => {
    const urlPath = req.url ?? '/';
    state.requests.push(urlPath);
    const fixed = state.overrides.get(urlPath);
    if (fixed !== undefined) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(fixed);
      return;
    }
    httpsGet(upstream.url + urlPath, upstream.pki.ca).then(
      ({ status, body }) => {
        const out = status === 200 ? (state.rewrite?.(urlPath, body) ?? body) : body;
        res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(out);
      },
      () => res.writeHead(502).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    get overrides() {
      return state.overrides;
    },
    get rewrite() {
      return state.rewrite;
    },
    set rewrite(fn) {
      state.rewrite = fn;
    },
    get requests() {
      return state.requests;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
