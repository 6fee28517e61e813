// `metrics.listen`: one parser for pald.yaml's check and for the daemon that binds it.
import { isIP } from 'node:net';

/**
 * `metrics.listen` split into host and port, or why it cannot be: "127.0.0.1:9477",
 * "[::1]:9477", "localhost:9477". Any address is accepted (operations.md: /metrics has no auth,
 * keep it on loopback).
 */
export function parseListen(value: string): { host: string; port: number } | string {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):([0-9]{1,5})$/.exec(value);
  if (!m) return `expected host:port (e.g. 127.0.0.1:9477, [::1]:9477) or "" for off, got "${value}"`;
  const host = m[1] ?? m[2]!;
  if (m[1] !== undefined && isIP(host) !== 6) return `"${host}" is not an IPv6 address`;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return `port must be 1..65535, got ${m[3]}`;
  return { host, port };
}
