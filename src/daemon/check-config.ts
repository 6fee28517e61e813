// `pald --check-config` (SPEC §2): validates pald.yaml and every file it names — manifest and
// ciphertexts, keys and passphrase, the Notary trust store, state_dir — File safety included,
// without mounting or contacting anything. Each problem is one line; none means exit 0.
import { stat } from 'node:fs/promises';
import { loadConfig, type PaldConfig } from '../config/index.js';
import { checkCosignFiles, checkNotationFiles } from '../trust/index.js';
import { OpenPgpBackend } from '../crypto/index.js';
import { fileSafetyProblem, ManifestStore } from '../store/index.js';
import { loadRedOctober } from './redoctober.js';
import { errorMessage } from '../shared/error-message.js';

export interface CheckConfigResult {
  readonly problems: string[];
  /** What was checked, for the operator (one line each). */
  readonly checked: string[];
}

const exists = (p: string): Promise<boolean> =>
  stat(p).then(
    () => true,
    () => false,
  );

export async function checkConfig(configPath?: string): Promise<CheckConfigResult> {
  const problems: string[] = [];
  const checked: string[] = [];
  let config: PaldConfig;
  try {
    config = await loadConfig(configPath);
    checked.push(`config ${configPath ?? '(default path)'}`);
  } catch (err) {
    return { problems: [errorMessage(err)], checked };
  }

  // The manifest and every ciphertext it names (a missing manifest is served as empty: a problem here).
  try {
    const store = await ManifestStore.open(config.manifest, { watch: false });
    const snap = store.current();
    await store.close();
    for (const p of snap.problems)
      problems.push(
        `${p.file}${p.line === undefined ? '' : `:${p.line}`}${p.entry ? ` [${p.entry}]` : ''}: ${p.message}`,
      );
    checked.push(`manifest ${config.manifest} (${snap.entries.size} entries)`);
  } catch (err) {
    problems.push(errorMessage(err));
  }

  // Host keys: File safety is fatal at load; other problems (unreadable, wrong passphrase) are listed.
  try {
    const backend = await OpenPgpBackend.load(config.keys, {
      ...(config.keyPassphraseFile ? { passphraseFile: config.keyPassphraseFile } : {}),
      // Never called: nothing is decrypted here.
      allocSecure: () => {
        throw new Error('check-config decrypts nothing');
      },
    });
    for (const p of backend.problems()) problems.push(`${p.file}: ${p.message}`);
    if (backend.keyIds().length === 0)
      problems.push(`${config.keys}: no usable private key (every secret would fail to decrypt)`);
    checked.push(`keys ${config.keys} (${backend.keyIds().length} usable)`);
    await backend.close();
  } catch (err) {
    problems.push(errorMessage(err));
  }

  const ca = config.trust.mode === 'none' ? undefined : config.trust.notary?.ca;
  if (ca !== undefined) {
    if (await exists(ca)) {
      const p = await fileSafetyProblem(ca, { kind: 'trust store' });
      if (p) problems.push(p);
      checked.push(`trust store ${ca}`);
    } else if (config.trust.notary?.collections.length) {
      problems.push(`trust store ${ca}: not found (the Notary provider would not be usable)`);
    }
  }

  // Red October: the pinned CA and the machine account's password (File safety; nothing is called).
  if (config.redoctober) {
    try {
      await loadRedOctober(config, () => {
        throw new Error('check-config decrypts nothing');
      });
      checked.push(`redoctober ${config.redoctober.server} (ca and password_file)`);
    } catch (err) {
      problems.push(`redoctober: ${errorMessage(err)}`);
    }
  }
  const cosign = await checkCosignFiles(config.trust);
  problems.push(...cosign.problems);
  checked.push(...cosign.checked);
  const notation = checkNotationFiles(config.trust);
  problems.push(...notation.problems);
  checked.push(...notation.checked);

  if (await exists(config.stateDir)) {
    const p = await fileSafetyProblem(config.stateDir, { kind: 'state directory' });
    if (p) problems.push(p);
    checked.push(`state_dir ${config.stateDir}`);
  }
  return { problems, checked };
}

/** Runs the check, prints the result, returns the exit code (0 ok, 1 problems). */
export async function runCheckConfig(
  configPath: string | undefined,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  const { problems, checked } = await checkConfig(configPath);
  for (const c of checked) out.write(`pald: checked ${c}\n`);
  for (const p of problems) err.write(`pald: problem: ${p}\n`);
  out.write(problems.length === 0 ? 'pald: configuration OK\n' : `pald: ${problems.length} problem(s)\n`);
  return problems.length === 0 ? 0 : 1;
}
