// Defects the fuzzer finds on main that are not fixed yet: issue 21's, whose fixes are being made
// on other branches, and new ones this harness found (item "new", reported to the lead with a
// reproducer, not yet filed). `npm run fuzz` still reports them (marked "known", and it exits 1); the unit fuzz tests in
// `npm test` tolerate exactly these, so this branch stays green until the fixes are merged.
// After a fix is merged, delete its entry: the unit test then holds the line. The unit tests log
// an entry that no longer shows up where it should, so a stale one is easy to spot.
import type { Scale } from './target.js';

export interface KnownPending {
  /** Issue item, e.g. "21.3", or "new" for a defect this harness found that no issue names yet. */
  readonly item: string;
  readonly title: string;
  /** Targets it shows up in. */
  readonly targets: readonly string[];
  /** Matches the finding's signature. */
  readonly signature: RegExp;
  /** Scales at which the defect shows (the unit run has no 'slow' budget and smaller shapes). */
  readonly scales: readonly Scale[];
}

const YAML_TARGETS = ['config', 'manifest', 'manifest-edit'];

export const KNOWN_PENDING: readonly KnownPending[] = [
  {
    item: '21.1',
    title: 'deep "- - -" nesting: stack-overflow RangeError from the YAML parser',
    targets: YAML_TARGETS,
    signature: /^RangeError at .*node_modules\/yaml\/.*Maximum call stack size exceeded/,
    scales: ['full'],
  },
  {
    item: '21.2',
    title: 'deep nesting parsed twice in a process: Node aborts (RegExpCompiler allocation failed)',
    targets: YAML_TARGETS,
    signature: /^crash: SIGABRT: FATAL ERROR: RegExpCompiler Allocation failed/,
    scales: ['unit', 'full'],
  },
  {
    item: '21.3',
    title: 'config keys named after Object.prototype members: TypeError, or accepted',
    targets: ['config'],
    signature: /^(TypeError at ConfigReader\.mapping |invalid value: unknown key "…" accepted instead of refused$)/,
    scales: ['unit', 'full'],
  },
  {
    item: '21.4',
    title: 'YAML error reporting and duplicate-key checks are super-linear (long quote runs, many keys)',
    targets: YAML_TARGETS,
    signature: /^(hang|slow): (21\.4 |a generated input$)/,
    scales: ['full'],
  },
  {
    item: '21.6',
    title: 'Docker error body {"message":{"toString":1}}: TypeError thrown in docker-modem\'s callback, inspect never settles',
    targets: ['docker-inspect'],
    signature: /^(uncaught exception: TypeError: Cannot convert object to primitive value|promise never settled)$/,
    scales: ['unit', 'full'],
  },
  {
    item: '21.7',
    title: 'cgroup parsing is quadratic in the number of path segments',
    targets: ['cgroup'],
    signature: /^(hang|slow): 21\.7 /,
    scales: ['full'],
  },
  {
    item: 'new',
    title: 'admin request with a deeply nested "op": RangeError from JSON.stringify in the "unknown op" message',
    targets: ['admin'],
    signature: /^RangeError at parseAdminRequest .*Maximum call stack size exceeded/,
    scales: ['unit', 'full'],
  },
  {
    item: 'new',
    title: 'manifest editor: an unresolved alias (`a: *b`) passes the syntax check, then yaml\'s own Error escapes from toString()',
    targets: ['manifest-edit'],
    signature: /^foreign Error at Alias\.toString .*Unresolved alias/,
    scales: ['unit', 'full'],
  },
  {
    item: 'new',
    title: 'canonicalKeyId: a certificate whose public key does not decode throws OpenSSL\'s plain Error, not KeyError (collection.ts catches it generically today)',
    targets: ['tuf-metadata'],
    signature: /^foreign Error at canonicalKeyId /,
    scales: ['full'],
  },
  {
    item: 'new',
    title: 'OpenPGP: every PKESK packet naming the host key costs a private-key operation (~2 ms): 2,000 in a 192 KB ciphertext take seconds',
    targets: ['openpgp'],
    signature: /^slow: valid message with its session key packet × \d+$/,
    scales: ['full'],
  },
];

export function knownPendingFor(target: string, signature: string): KnownPending | undefined {
  return KNOWN_PENDING.find((k) => k.targets.includes(target) && k.signature.test(signature));
}
