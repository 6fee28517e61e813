// pald.yaml trust.cosign and trust.registries (SPEC §3): read into the typed shape, mistakes named.
import test from 'ava';
import { ConfigError, parseConfig } from '../../../src/config/index.js';

const base = (trust: string) => `trust:\n  mode: signed\n${trust}`;

test('cosign policies with keys and keyless identities, and registries', (t) => {
  const c = parseConfig(
    '/etc/pal/pald.yaml',
    base(`  cosign:
    keep_verified_ms: 5000
    policies:
      - repository: registry.example.com/billing/*
        keys: [cosign/billing.pub]
        keyless:
          trusted_root: sigstore/trusted_root.json
          identities:
            - issuer: https://token.actions.githubusercontent.com
              subject: https://github.com/acme/billing/.github/workflows/release.yml@refs/heads/main
            - issuer: https://accounts.example.com
              subject_regexp: ".*@acme\\\\.com"
        grants: [billing]
  registries:
    registry.example.com: { ca: registry-ca.pem, auth: registry-auth.json }
    "127.0.0.1:5000": { insecure: true }
`),
  );
  const p = c.trust.cosign!.policies[0]!;
  t.is(p.repository, 'registry.example.com/billing/*');
  t.deepEqual(p.keys, ['/etc/pal/cosign/billing.pub']);
  t.is(p.keyless!.trustedRoot, '/etc/pal/sigstore/trusted_root.json');
  t.is(p.keyless!.identities[1]!.subjectRegexp, '.*@acme\\.com');
  t.deepEqual(p.grants, ['billing']);
  t.is(c.trust.cosign!.keepVerifiedMs, 5000);
  t.is(c.trust.cosign!.timeoutMs, 10_000);
  t.deepEqual(c.trust.registries!.get('registry.example.com'), {
    ca: '/etc/pal/registry-ca.pem',
    auth: '/etc/pal/registry-auth.json',
  });
  t.deepEqual(c.trust.registries!.get('127.0.0.1:5000'), { insecure: true });
});

for (const [name, trust, re] of [
  [
    'plain HTTP to a remote registry',
    `  registries:\n    registry.example.com: { insecure: true }\n`,
    /loopback registries only/,
  ],
  [
    'a policy with neither keys nor keyless',
    `  cosign:\n    policies:\n      - repository: a/*\n        grants: [x]\n`,
    /needs keys, keyless, or both/,
  ],
  [
    'an identity with both subject and subject_regexp',
    `  cosign:\n    policies:\n      - repository: a/*\n        keyless:\n          trusted_root: r.json\n          identities: [{ issuer: i, subject: s, subject_regexp: s }]\n`,
    /exactly one of subject, subject_regexp/,
  ],
  [
    'a bad regexp',
    `  cosign:\n    policies:\n      - repository: a/*\n        keyless:\n          trusted_root: r.json\n          identities: [{ issuer: i, subject_regexp: "(" }]\n`,
    /not a regular expression/,
  ],
  [
    'keyless without a trusted root',
    `  cosign:\n    policies:\n      - repository: a/*\n        keyless:\n          identities: [{ issuer: i, subject: s }]\n`,
    /trusted_root: missing/,
  ],
  [
    'a malformed grant',
    `  cosign:\n    policies:\n      - repository: a/*\n        keys: [k.pub]\n        grants: [Billing]\n`,
    /grants\[0\]/,
  ],
  [
    'an unknown key',
    `  cosign:\n    policies:\n      - repository: a/*\n        keys: [k.pub]\n        key: x\n`,
    /unknown key/,
  ],
] as const) {
  test(`refused: ${name}`, (t) => {
    const e = t.throws(() => parseConfig('/etc/pal/pald.yaml', base(trust)));
    t.true(e instanceof ConfigError);
    t.regex(e.message, re);
  });
}
