// pald.yaml trust.notation (SPEC §3): read into the typed shape, mistakes named where they are written.
import test from 'ava';
import { ConfigError, parseConfig } from '../../../src/config/index.js';

const base = (trust: string) => `trust:\n  mode: signed\n${trust}`;

test('notation policies: repository glob, trust store path, identities, grants; defaults', (t) => {
  const c = parseConfig(
    '/etc/pal/pald.yaml',
    base(`  notation:
    policies:
      - repository: registry.example.com/billing/*
        trust_store: notation/billing
        identities: ["x509.subject: C=US, O=Acme, CN=billing-release", "*"]
        grants: [billing]
`),
  );
  const n = c.trust.notation!;
  t.deepEqual(n.policies[0], {
    repository: 'registry.example.com/billing/*',
    trustStore: '/etc/pal/notation/billing',
    identities: ['x509.subject: C=US, O=Acme, CN=billing-release', '*'],
    grants: ['billing'],
  });
  t.is(n.timeoutMs, 10_000);
  t.is(n.keepVerifiedMs, 600_000);
  t.is(parseConfig('/etc/pal/pald.yaml', base('')).trust.notation, undefined);
});

test('notation mistakes are refused with the key and the reason', (t) => {
  const bad = (policy: string, re: RegExp) => {
    const e = t.throws(
      () => parseConfig('/etc/pal/pald.yaml', base(`  notation:\n    policies:\n      - ${policy}\n`)),
      { instanceOf: ConfigError },
    );
    t.regex(e.message, re);
  };
  bad('{ repository: r/*, trust_store: s, identities: ["x509.subject: C=US"] }', /identities\[0\].*at least O and CN/);
  bad('{ repository: r/*, trust_store: s, identities: ["CN=x"] }', /identities are "\*" or "x509.subject:/);
  bad('{ repository: r/*, trust_store: s }', /identities: at least one identity/);
  bad('{ repository: r/*, identities: ["*"] }', /trust_store: missing/);
  bad('{ trust_store: s, identities: ["*"] }', /repository: missing/);
  bad('{ repository: r/*, trust_store: s, identities: ["*"], grants: [Bad] }', /grants\[0\]/);
  bad('{ repository: r/*, trust_store: s, identities: ["*"], extra: 1 }', /unknown key/);
});
