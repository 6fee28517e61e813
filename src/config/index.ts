// pald.yaml: load, validate and fill in SPEC §3 defaults. Every error names the
// file, the line and the key, so an operator can fix it without guessing.
// This door reads the file; the sections are read by pald-sections.ts, trust-section.ts and
// signature-sections.ts, from typed node reads in node-reader.ts.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseYaml } from '../shared/yaml-nodes.js';
import { DEFAULT_YAML_LIMITS } from '../shared/yaml-bounded.js';
import { fileSafetyProblem } from '../store/index.js';
import { ConfigError } from './errors.js';
import { DEFAULT_CONFIG_PATH, defaultConfig } from './defaults.js';
import { NodeReader } from './node-reader.js';
import { readPaldConfig } from './pald-sections.js';
import type { PaldConfig } from './types.js';

export type * from './types.js';
export { ConfigError } from './errors.js';
export { DEFAULT_CONFIG_PATH, defaultConfig } from './defaults.js';
export { parseListen } from './listen.js';

/**
 * Loads pald.yaml. With no path the default path is tried and a missing file
 * means "all defaults"; a path given explicitly must exist.
 */
export async function loadConfig(file?: string, env: NodeJS.ProcessEnv = process.env): Promise<PaldConfig> {
  const explicit = file !== undefined;
  const configPath = path.resolve(file ?? DEFAULT_CONFIG_PATH);
  let text: string;
  try {
    await stat(configPath); // missing is not a File safety problem: defaults apply (below)
    // File safety (SPEC §3), checked before reading: also refuses a FIFO that would block the read.
    const unsafe = await fileSafetyProblem(configPath, { kind: 'config' });
    if (unsafe) throw new ConfigError(unsafe, configPath);
    text = await readFile(configPath, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (!explicit && code === 'ENOENT') return defaultConfig(env);
    throw new ConfigError(`${configPath}: cannot read config: ${(err as Error).message}`, configPath);
  }
  return parseConfig(configPath, text, env);
}

/** pald.yaml is a page of settings: anything near this size is a mistake or an attack. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Validates config text (exported for tests and `pald --check`). */
export function parseConfig(configPath: string, text: string, env: NodeJS.ProcessEnv = process.env): PaldConfig {
  const { source, errors } = parseYaml(configPath, text, { ...DEFAULT_YAML_LIMITS, maxBytes: MAX_CONFIG_BYTES });
  const first = errors[0];
  if (first) {
    const where = first.line === undefined ? configPath : `${configPath}:${first.line}`;
    throw new ConfigError(`${where}: YAML syntax error: ${first.message}`, configPath, first.line);
  }
  return readPaldConfig(new NodeReader(source, path.dirname(configPath)), env);
}
