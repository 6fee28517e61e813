// `pal seal --ro`: where the Red October server, CA, account and password come from. The password
// is never taken from argv (other users see it in ps): $PAL_RO_PASSWORD or --ro-password-file.
import { readFile } from 'node:fs/promises';
import { loadConfig } from '../config/index.js';
import { readCa, RO_MINIMUM, sealRedOctober } from '../crypto/index.js';

export interface RoSealOptions {
  readonly server: string;
  readonly ca: Buffer;
  readonly user: string;
  readonly password: string;
  readonly owners: string[];
  readonly minimum: number;
}

/** A usage problem (exit 2), as opposed to a failure to seal (exit 1). */
export class RoUsageError extends Error {}

type Values = Record<string, string | string[] | boolean | undefined>;

export async function resolveRoOptions(values: Values, env: NodeJS.ProcessEnv): Promise<RoSealOptions> {
  const ownersText = values['owners'] as string | undefined;
  if (!ownersText) throw new RoUsageError('--ro needs --owners a,b,c');
  const owners = [...new Set(ownersText.split(',').map((o) => o.trim()))];
  if (owners.some((o) => o === '' || !/^[\x21-\x7e]{1,128}$/.test(o)))
    throw new RoUsageError(`--owners: expected a comma-separated list of account names, got "${ownersText}"`);
  const minimumText = (values['minimum'] as string | undefined) ?? String(RO_MINIMUM);
  const minimum = /^\d{1,3}$/.test(minimumText) ? Number(minimumText) : NaN;
  if (minimum !== RO_MINIMUM)
    throw new RoUsageError(`--minimum ${minimumText}: Red October supports only --minimum 2 (any 2 of the owners)`);
  if (owners.length < minimum) throw new RoUsageError(`--owners: at least ${minimum} distinct owners are needed`);

  // Server, CA and account default to pald.yaml's `redoctober:` section.
  const configPath = values['config'] as string | undefined;
  const needConfig = !values['ro-server'] || !values['ro-ca'] || !values['ro-user'];
  const section = needConfig ? (await loadConfig(configPath, env)).redoctober : undefined;
  const server = (values['ro-server'] as string | undefined) ?? section?.server;
  const caFile = (values['ro-ca'] as string | undefined) ?? section?.ca;
  const user = (values['ro-user'] as string | undefined) ?? section?.user;
  if (!server || !caFile || !user)
    throw new RoUsageError('--ro needs --ro-server, --ro-ca and --ro-user (or a `redoctober:` section in --config)');

  const passwordFile = values['ro-password-file'] as string | undefined;
  let password = env['PAL_RO_PASSWORD'];
  if (passwordFile) password = (await readFile(passwordFile, 'utf8')).replace(/\r?\n$/, '');
  if (!password) throw new RoUsageError('--ro needs the password in $PAL_RO_PASSWORD or --ro-password-file FILE');
  return { server, ca: await readCa(caFile), user, password, owners, minimum };
}

export function sealRo(
  opts: RoSealOptions,
  secret: { name: string; labels: readonly string[]; plaintext: Uint8Array },
): Promise<string> {
  return sealRedOctober({ ...opts, ...secret });
}
