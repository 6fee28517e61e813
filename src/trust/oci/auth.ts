// Registry authentication as Docker does it: credentials from a config.json-format file, the
// registry's WWW-Authenticate challenge, and for Bearer a token from the challenge's realm.
import { readRegularFileSync } from '../../store/index.js';

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export interface Challenge {
  readonly scheme: 'bearer' | 'basic';
  readonly params: Readonly<Record<string, string>>;
}

const MAX_AUTH_FILE_BYTES = 1024 * 1024;

/**
 * The credentials for `host` in a Docker config.json ({"auths": {HOST: {"auth": base64("user:pass")}}},
 * or username/password members). Docker Hub's entry is keyed "https://index.docker.io/v1/".
 * Credential helpers (credsStore) are not run: pald does not execute programs for this.
 */
export function credentialsFromFile(file: string, host: string): Credentials | undefined {
  const text = readRegularFileSync(file, MAX_AUTH_FILE_BYTES).bytes.toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not JSON: ${(e as Error).message}`);
  }
  const auths = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>)['auths'] : undefined;
  if (typeof auths !== 'object' || auths === null) throw new Error(`${file}: no "auths" mapping`);
  const keys = [host, `https://${host}`, `http://${host}`, `https://${host}/v1/`, `https://${host}/v2/`];
  if (host === 'docker.io') keys.push('https://index.docker.io/v1/', 'index.docker.io', 'registry-1.docker.io');
  for (const key of keys) {
    const entry = Object.hasOwn(auths, key) ? (auths as Record<string, unknown>)[key] : undefined;
    if (typeof entry !== 'object' || entry === null) continue;
    const e = entry as Record<string, unknown>;
    if (typeof e['auth'] === 'string' && e['auth'] !== '') {
      const decoded = Buffer.from(e['auth'], 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) throw new Error(`${file}: the "auth" of ${key} is not base64 of user:password`);
      return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (typeof e['username'] === 'string' && typeof e['password'] === 'string') {
      return { username: e['username'], password: e['password'] };
    }
  }
  return undefined;
}

/** `Bearer realm="https://auth/token",service="reg",scope="repository:a/b:pull"` → its parameters. */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (header === null || header.length > 4096) return undefined;
  const m = /^\s*(Bearer|Basic)\b(.*)$/i.exec(header);
  if (m === null) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;
  for (let p = re.exec(m[2]!); p !== null; p = re.exec(m[2]!)) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  }
  return { scheme: m[1]!.toLowerCase() as 'bearer' | 'basic', params };
}

export function basicAuthorization(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
}

/** The token service's answer: {"token": …} or {"access_token": …}, with expires_in seconds (default 60). */
export function parseTokenResponse(body: Buffer): { token: string; expiresInS: number } {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw new Error('token service answered with something other than JSON');
  }
  const d = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>) : {};
  const token = typeof d['token'] === 'string' ? d['token'] : d['access_token'];
  if (typeof token !== 'string' || token === '' || !/^[\x21-\x7e]+$/.test(token)) {
    throw new Error('token service answered without a usable token');
  }
  const expires = typeof d['expires_in'] === 'number' && d['expires_in'] > 0 ? d['expires_in'] : 60;
  return { token, expiresInS: Math.min(expires, 3600) };
}
