// What a Red October reply means for pal: the plaintext of a successful /decrypt, or which
// SecretError a failed one is. Every field is checked; nothing of the reply is trusted.
import { SecretError } from '../types.js';
import { parseJsonObject, strictBase64, type RoEnvelope } from './envelope.js';
import type { RoReply } from './client.js';

/** Status texts (lower-cased) that mean "no usable delegation for this host/label right now". */
const NOT_DELEGATED = ['need more delegated keys', 'key not delegated'];
/** An expired delegation is refused once with this, then as "need more delegated keys". */
const EXPIRED = 'failed to decrypt with all keys in keyset';
/** The ciphertext itself is bad (or from another vault): retrying will not help. */
const CORRUPT = ['signature mismatch', 'unknown version', 'wrong vault', 'invalid input', 'invalid character'];

/** "needs 2 more delegations from alice, bob, carol", for the audit log. */
export function delegationReason(env: RoEnvelope, user: string): string {
  const labels = env.sealedLabels.join(', ');
  return (
    `Red October needs ${env.minimum} more delegation${env.minimum === 1 ? '' : 's'} from ` +
    `${env.owners.join(', ')} (to user ${user}, label ${labels})`
  );
}

/** Maps a failed /decrypt Status to the SecretError pald reports (never a plaintext). */
export function decryptFailure(name: string, status: string, env: RoEnvelope, user: string): SecretError {
  const s = status.toLowerCase();
  const shown = JSON.stringify(status.slice(0, 200));
  if (NOT_DELEGATED.some((t) => s.startsWith(t)))
    return new SecretError('denied-by-backend', `${name}: ${delegationReason(env, user)}`);
  if (s.startsWith(EXPIRED))
    return new SecretError('denied-by-backend', `${name}: delegation expired: ${delegationReason(env, user)}`);
  if (CORRUPT.some((t) => s.startsWith(t)))
    return new SecretError('corrupt', `${name}: Red October refused the ciphertext: ${shown}`);
  // Wrong Password, unknown account, vault not created…: pald's side is misconfigured.
  return new SecretError('unavailable', `${name}: Red October refused /decrypt as ${user}: ${shown}`);
}

/**
 * The plaintext bytes of a successful /decrypt: Response is base64 of
 * {"Data":"<b64 plaintext>","Secure":true,"Delegates":[...]}. Throws SecretError('corrupt').
 * The caller owns (and must zero) the returned buffer.
 */
export function decryptedData(name: string, reply: RoReply): { data: Buffer; delegates: string[] } {
  let inner: Buffer | undefined;
  try {
    inner = strictBase64(reply.body['Response'], 'Response');
    const obj = parseJsonObject(inner, 'Response');
    if (obj['Secure'] !== true) throw new Error('Response is not from a signed (Secure) ciphertext');
    const delegates = obj['Delegates'] ?? [];
    if (!Array.isArray(delegates) || delegates.length > 64 || !delegates.every((d) => typeof d === 'string'))
      throw new Error('Response.Delegates is not a list of names');
    const data = strictBase64(obj['Data'], 'Response.Data');
    return { data, delegates: delegates };
  } catch (err) {
    throw new SecretError('corrupt', `${name}: unexpected /decrypt reply: ${(err as Error).message}`);
  } finally {
    inner?.fill(0);
  }
}
