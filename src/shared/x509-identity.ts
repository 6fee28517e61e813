// Trusted identities of a Notation policy: "*" or "x509.subject: C=US, O=Acme, CN=release".
// In shared/ because both config/ (syntax, when pald.yaml is read) and trust/ (matching) use it.
// As in Notation, the identity's attributes must all be in the signing certificate's subject with
// the same values (a subset match), and a subject naming one attribute type twice matches nothing.
/** Short names of the subject attributes identities may use (as Notation's `x509.subject`), by OID. */
export const ATTRIBUTE_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.6': 'C',
  '2.5.4.8': 'ST',
  '2.5.4.7': 'L',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.3': 'CN',
  '2.5.4.5': 'SERIALNUMBER',
  '2.5.4.9': 'STREET',
  '2.5.4.17': 'POSTALCODE',
  '1.2.840.113549.1.9.1': 'E',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
};

const PREFIX = 'x509.subject:';
const SHORT_NAMES = new Set(Object.values(ATTRIBUTE_NAMES));
const ALIASES: Readonly<Record<string, string>> = { S: 'ST', EMAILADDRESS: 'E', SN: 'SERIALNUMBER' };
const OID = /^[0-9]+(\.[0-9]+)+$/;

/** "*" (any signer of the trust store) or the attributes a subject must have. */
export type TrustedIdentity = '*' | ReadonlyMap<string, string>;

/** Split an RFC 4514 string on unescaped `,` and `+` (escapes stay, see unescape). */
function splitDn(text: string): string[] | string {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\') {
      if (i + 1 >= text.length) return 'ends with a lone backslash';
      current += c + text[i + 1];
      i += 1;
    } else if (c === ',' || c === '+') {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

/** `\,` → `,`, `\HH` → byte HH (UTF-8 sequences as escaped bytes). */
function unescape(value: string): string {
  const bytes: number[] = [];
  const raw = Buffer.from(value, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const hex = raw.subarray(i + 1, i + 3).toString('latin1');
    if (raw[i] === 0x5c && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (raw[i] === 0x5c && i + 1 < raw.length) {
      bytes.push(raw[++i]!);
    } else {
      bytes.push(raw[i]!);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** What is wrong with a configured identity, or undefined. */
export function identityProblem(text: string): string | undefined {
  const parsed = parse(text);
  return 'problem' in parsed ? parsed.problem : undefined;
}

/** Parse one configured identity; throws an Error saying what is wrong with it. */
export function parseTrustedIdentity(text: string): TrustedIdentity {
  const parsed = parse(text);
  if ('problem' in parsed) throw new Error(parsed.problem);
  return parsed.identity;
}

function parse(text: string): { identity: TrustedIdentity } | { problem: string } {
  const fail = (problem: string): { problem: string } => ({ problem });
  if (text.trim() === '*') return { identity: '*' };
  if (!text.startsWith(PREFIX))
    return fail(`identities are "*" or "${PREFIX} C=…, O=…, CN=…", got ${JSON.stringify(text)}`);
  const parts = splitDn(text.slice(PREFIX.length));
  if (typeof parts === 'string') return fail(`${JSON.stringify(text)} ${parts}`);
  const attrs = new Map<string, string>();
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq <= 0) return fail(`${JSON.stringify(text)}: "${part.trim()}" is not TYPE=value`);
    const rawType = part.slice(0, eq).trim().toUpperCase();
    const type = ATTRIBUTE_NAMES[rawType] ?? ALIASES[rawType] ?? rawType;
    let escaped = part.slice(eq + 1).trimStart();
    while (/\s$/.test(escaped) && !/\\\s$/.test(escaped)) escaped = escaped.slice(0, -1); // `\ ` is a kept space
    const value = unescape(escaped);
    if (!SHORT_NAMES.has(type) && !OID.test(type))
      return fail(
        `${JSON.stringify(text)}: unknown attribute type ${JSON.stringify(rawType)} (use ${[...SHORT_NAMES].join(', ')} or a dotted OID)`,
      );
    if (value.length === 0) return fail(`${JSON.stringify(text)}: ${type} has an empty value`);
    if (attrs.has(type)) return fail(`${JSON.stringify(text)}: ${type} appears twice`);
    attrs.set(type, value);
  }
  // A subset match on a vague identity would accept most certificates of the store.
  if (!attrs.has('O') || !(attrs.has('CN') || attrs.has('OU')))
    return fail(`${JSON.stringify(text)} must name at least O and CN (or OU)`);
  return { identity: attrs };
}

/** Does the signing certificate's subject satisfy the identity? */
export function identityMatches(identity: TrustedIdentity, subject: readonly (readonly [string, string])[]): boolean {
  if (identity === '*') return true;
  const have = new Map<string, string>();
  for (const [type, value] of subject) {
    if (have.has(type)) return false; // ambiguous: which OU is "the" OU?
    have.set(type, value);
  }
  for (const [type, value] of identity) if (have.get(type) !== value) return false;
  return true;
}
