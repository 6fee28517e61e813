// Scaffolding of the hostile-YAML tests (config and manifest parsers): temp manifest directories
// and the ConfigError of a pald.yaml text.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, parseConfig } from '../../src/config/index.js';

const dirs: string[] = [];
// Each test file runs in its own process: this removes the directories of the file that imports it.
test.after.always(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A temp directory holding `files` (name → content), removed after the test file's tests. */
export async function manifestDir(files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pal-hostile-yaml-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content);
  return dir;
}

/** The ConfigError of a pald.yaml text, or undefined when it is accepted. */
export function configError(text: string): ConfigError | undefined {
  try {
    parseConfig('/etc/pal/pald.yaml', text, {});
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
}
