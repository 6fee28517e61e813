// `pal seal --ro`: Red October's /encrypt with the owners, the minimum, and labels that carry the
// pal labels plus the secret name (readable before decryption, signed by the vault). Inside, the
// data is the pal payload (name + labels + value), so a decrypt is checked against both.
import { encodePayload } from '../payload.js';
import { RoClient } from './client.js';
import { parseEnvelope, sealLabels } from './envelope.js';

export interface RoSealArgs {
  readonly server: string;
  readonly ca: Buffer;
  readonly user: string;
  readonly password: string;
  readonly name: string;
  readonly labels: readonly string[];
  readonly owners: readonly string[];
  readonly minimum: number;
  readonly plaintext: Uint8Array;
  readonly timeoutMs?: number;
}

/** Red October (this server) builds only "any 2 of the owners" key sets. */
export const RO_MINIMUM = 2;

/** Returns the ciphertext file's text (the server's base64 ciphertext plus a newline). */
export async function sealRedOctober(args: RoSealArgs): Promise<string> {
  if (args.minimum !== RO_MINIMUM)
    throw new Error(`--minimum ${args.minimum}: Red October supports only --minimum 2 (any 2 of the owners)`);
  const owners = [...new Set(args.owners)];
  if (owners.length < args.minimum) throw new Error(`--owners: at least ${args.minimum} distinct owners are needed`);
  const payload = Buffer.from(encodePayload({ name: args.name, labels: args.labels }, args.plaintext));
  const data = payload.toString('base64');
  payload.fill(0);
  const client = new RoClient({
    server: args.server,
    ca: args.ca,
    maxResponseBytes: data.length * 2 + 1024 * 1024,
    timeoutMs: args.timeoutMs ?? 30_000,
  });
  const reply = await client.call('/encrypt', {
    Name: args.user,
    Password: args.password,
    Minimum: args.minimum,
    Owners: owners,
    Labels: sealLabels(args.name, args.labels),
    Data: data,
  });
  if (reply.status !== 'ok') throw new Error(`Red October refused /encrypt: ${JSON.stringify(reply.status)}`);
  const ct = reply.body['Response'];
  if (typeof ct !== 'string') throw new Error('Red October /encrypt replied without a ciphertext');
  // Check what pald will read before anything is written.
  const env = parseEnvelope(Buffer.from(ct, 'latin1'));
  const want = [...new Set(args.labels)].sort();
  if (env.sealedName !== args.name || env.sealedLabels.join('\n') !== want.join('\n'))
    throw new Error('Red October returned a ciphertext with other labels than requested');
  if (env.owners.join('\n') !== [...owners].sort().join('\n'))
    throw new Error(`Red October returned a ciphertext for other owners (${env.owners.join(', ')})`);
  return ct + '\n';
}
