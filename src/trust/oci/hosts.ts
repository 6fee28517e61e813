// Per-registry connection state for the OCI client: base URL (https, or http for an `insecure`
// loopback host), the TLS dispatcher with the pinned CA, credentials from the auth file, and the
// Bearer tokens obtained so far. Configured hosts are set up when the client is made, so that a CA or
// credentials file someone else could change is fatal at start (SPEC File safety).
import { X509Certificate } from 'node:crypto';
import { Agent, type Dispatcher } from 'undici';
import { FileSafetyError, fileSafetyProblemSync, readRegularFileSync } from '../../store/index.js';
import { credentialsFromFile, type Credentials } from './auth.js';
import { RegistryError, type RegistryHostConfig } from './types.js';

const MAX_CA_BYTES = 1024 * 1024;

export interface HostState {
  readonly base: URL;
  readonly dispatcher: Dispatcher;
  readonly insecure: boolean;
  readonly credentials?: Credentials;
  /** Bearer tokens by scope. */
  readonly tokens: Map<string, { value: string; until: number }>;
  /** The registry asked for Basic auth: send credentials up front from now on. */
  basic?: boolean;
}

export function isLoopbackHost(host: string): boolean {
  const name = host.replace(/:[0-9]+$/, '');
  return name === 'localhost' || name === '[::1]' || /^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$/.test(name);
}

function hasCertificate(pem: Buffer): boolean {
  const m = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----/.exec(pem.toString('latin1'));
  if (m === null) return false;
  try {
    new X509Certificate(m[0]);
    return true;
  } catch {
    return false;
  }
}

export class RegistryHosts {
  /** Why a configured registry cannot be used (unreadable CA, bad auth file…), by host. */
  readonly problems = new Map<string, string>();
  /** For hosts without a pinned CA, and for redirects/token realms off the registry's origin. */
  readonly defaultDispatcher: Agent;
  private readonly dispatchers: Agent[] = [];
  private readonly states = new Map<string, HostState>();

  constructor(
    private readonly configs: ReadonlyMap<string, RegistryHostConfig>,
    private readonly timeoutMs: number,
    private readonly skipFileSafety: boolean,
  ) {
    this.defaultDispatcher = new Agent({ connections: 8, connect: { timeout: timeoutMs } });
    this.dispatchers.push(this.defaultDispatcher);
    for (const host of configs.keys()) {
      try {
        this.get(host);
      } catch (e) {
        if (e instanceof FileSafetyError) {
          void this.close();
          throw e;
        }
      }
    }
  }

  private readConfigFile(file: string): Buffer {
    if (!this.skipFileSafety) {
      const problem = fileSafetyProblemSync(file, { kind: 'trust store' });
      if (problem !== undefined) throw new FileSafetyError(problem, file);
    }
    return readRegularFileSync(file, MAX_CA_BYTES).bytes;
  }

  /** The host's state; throws RegistryError (bad-response) when its configuration is unusable. */
  get(host: string): HostState {
    const known = this.states.get(host);
    if (known !== undefined) return known;
    const problem = this.problems.get(host);
    if (problem !== undefined) throw new RegistryError(`registry ${host}: ${problem}`, 'bad-response');
    const cfg = this.configs.get(host) ?? {};
    try {
      if (cfg.insecure === true && !isLoopbackHost(host))
        throw new Error('plain HTTP is allowed for loopback hosts only');
      const ca = cfg.ca !== undefined ? this.readConfigFile(cfg.ca) : undefined;
      if (ca !== undefined && !hasCertificate(ca)) throw new Error(`${cfg.ca}: no PEM certificate`);
      if (cfg.auth !== undefined) this.readConfigFile(cfg.auth); // File safety, before any credential is used
      const credentials = cfg.auth !== undefined ? credentialsFromFile(cfg.auth, host) : undefined;
      const apiHost = host === 'docker.io' ? 'registry-1.docker.io' : host;
      let dispatcher: Dispatcher = this.defaultDispatcher;
      if (ca !== undefined) {
        const agent = new Agent({ connections: 8, connect: { ca, timeout: this.timeoutMs } });
        this.dispatchers.push(agent);
        dispatcher = agent;
      }
      const state: HostState = {
        base: new URL(`${cfg.insecure === true ? 'http' : 'https'}://${apiHost}`),
        dispatcher,
        insecure: cfg.insecure === true,
        ...(credentials !== undefined ? { credentials } : {}),
        tokens: new Map(),
      };
      this.states.set(host, state);
      return state;
    } catch (e) {
      if (e instanceof FileSafetyError) throw e;
      this.problems.set(host, (e as Error).message);
      throw new RegistryError(`registry ${host}: ${(e as Error).message}`, 'bad-response');
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.dispatchers.map((d) => d.close().catch(() => {})));
  }
}
