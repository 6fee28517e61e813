// Typed reads of pald.yaml's nodes. Each read either returns a checked value or throws a ConfigError that
// names the file, the line and the full key; the section readers (daemon-sections.ts, trust-section.ts,
// signature-sections.ts) are built from these.
import path from 'node:path';
import { isMap, isScalar, isSeq } from 'yaml';
import { describe, lineOf, type YamlSource } from '../shared/yaml-nodes.js';
import { labelProblem } from '../policy/index.js';
import { ConfigError } from './errors.js';
import { parseListen } from './listen.js';

export type Fields = Record<string, (node: unknown, key: string) => void>;

export class NodeReader {
  constructor(
    readonly src: YamlSource,
    private readonly baseDir: string,
  ) {}

  fail(node: unknown, key: string, message: string): never {
    const line = lineOf(this.src, node);
    const where = line === undefined ? this.src.file : `${this.src.file}:${line}`;
    throw new ConfigError(`${where}: ${key}: ${message}`, this.src.file, line, key);
  }

  /** Walks a mapping: every key must be known; handlers see the value node. */
  mapping(node: unknown, key: string, fields: Fields): void {
    if (this.isNull(node)) return;
    if (!isMap(node)) this.fail(node, key, `expected a mapping, got ${describe(node)}`);
    for (const pair of node.items) {
      const k = isScalar(pair.key) ? pair.key.value : undefined;
      if (typeof k !== 'string') this.fail(pair.key, key, 'keys must be strings');
      const full = key ? `${key}.${k}` : k;
      // Own properties only: `toString:` or `__proto__:` must be unknown keys, not Object.prototype's.
      const handler = Object.hasOwn(fields, k) ? fields[k] : undefined;
      if (!handler) {
        this.fail(pair.key, full, `unknown key (expected one of: ${Object.keys(fields).join(', ')})`);
      }
      handler(pair.value, full);
    }
  }

  isNull(node: unknown): boolean {
    return node === null || node === undefined || (isScalar(node) && node.value === null);
  }

  string(node: unknown, key: string): string {
    if (!isScalar(node) || typeof node.value !== 'string' || node.value === '') {
      this.fail(node, key, `expected a non-empty string, got ${describe(node)}`);
    }
    return node.value;
  }

  /** A path, relative to pald.yaml's folder. */
  path(node: unknown, key: string): string {
    return this.resolve(this.string(node, key));
  }

  resolve(p: string): string {
    return path.resolve(this.baseDir, p);
  }

  integer(node: unknown, key: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    if (!isScalar(node) || typeof node.value !== 'number' || !Number.isInteger(node.value)) {
      this.fail(node, key, `expected an integer, got ${describe(node)}`);
    }
    const v = node.value;
    if (v < min || v > max) this.fail(node, key, `must be between ${min} and ${max}, got ${v}`);
    return v;
  }

  list<T>(node: unknown, key: string, item: (n: unknown, k: string) => T): T[] {
    if (this.isNull(node)) return [];
    if (!isSeq(node)) this.fail(node, key, `expected a list, got ${describe(node)}`);
    return node.items.map((n, i) => item(n, `${key}[${i}]`));
  }

  label(node: unknown, key: string): string {
    const v = this.string(node, key);
    const problem = labelProblem(v);
    if (problem) this.fail(node, key, problem);
    return v;
  }

  url(node: unknown, key: string): string {
    const v = this.string(node, key);
    try {
      new URL(v);
    } catch {
      this.fail(node, key, `not a URL: "${v}"`);
    }
    return v;
  }

  /** "" (off) or host:port with a literal IPv4, [IPv6] or a host name, and a port 1..65535. */
  listenAddress(node: unknown, key: string): string {
    const v = this.string(node, key);
    if (v === '') return v;
    const parsed = parseListen(v);
    if (typeof parsed === 'string') this.fail(node, key, parsed);
    return v;
  }
}
