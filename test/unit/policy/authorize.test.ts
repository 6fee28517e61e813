import test from 'ava';
import type { Identity } from '../../../src/identity/types.js';
import { authorize, effectiveLabels } from '../../../src/policy/index.js';
import type { TrustDecision } from '../../../src/trust/types.js';

const container: Identity = {
  kind: 'container',
  pid: 10,
  tgid: 10,
  uid: 1000,
  gid: 1000,
  containerId: 'a'.repeat(64),
  name: 'web',
};
const host: Identity = { kind: 'host', pid: 11, tgid: 11, uid: 1000, gid: 1000 };
const unknown: Identity = {
  kind: 'unknown',
  pid: 12,
  tgid: 12,
  uid: 0,
  gid: 0,
  reason: 'process exited before attribution',
};

const trust = (state: TrustDecision['state'], labels: string[]): TrustDecision => ({
  state,
  labels,
  provider: 'notary',
  reason: `state ${state}`,
});

const table: Array<[string, Parameters<typeof authorize>[0], boolean, RegExp]> = [
  [
    'container holding every label',
    { identity: container, trust: trust('verified', ['a', 'b', 'c']), requiredLabels: ['a', 'b'], hostAllowUids: [] },
    true,
    /holds a, b \(verified by notary\)/,
  ],
  [
    'container, mode none (unverified) still allowed, and says so',
    { identity: container, trust: trust('unverified', ['a']), requiredLabels: ['a'], hostAllowUids: [] },
    true,
    /UNVERIFIED/,
  ],
  [
    'container missing one label',
    { identity: container, trust: trust('verified', ['a']), requiredLabels: ['a', 'b'], hostAllowUids: [] },
    false,
    /missing label b$/,
  ],
  [
    'container missing two labels',
    { identity: container, trust: trust('verified', []), requiredLabels: ['a', 'b'], hostAllowUids: [] },
    false,
    /missing labels a, b/,
  ],
  [
    'unsigned image',
    { identity: container, trust: trust('unsigned', ['a']), requiredLabels: ['a'], hostAllowUids: [] },
    false,
    /trust unsigned/,
  ],
  [
    'trust error',
    { identity: container, trust: trust('error', ['a']), requiredLabels: ['a'], hostAllowUids: [] },
    false,
    /trust error/,
  ],
  ['no trust decision', { identity: container, requiredLabels: ['a'], hostAllowUids: [] }, false, /no trust decision/],
  [
    'secret without labels',
    { identity: container, trust: trust('verified', ['a']), requiredLabels: [], hostAllowUids: [] },
    false,
    /no labels/,
  ],
  [
    'host uid allowed',
    { identity: host, requiredLabels: ['a'], hostAllowUids: [0, 1000] },
    true,
    /uid 1000 is in host\.allow_uids/,
  ],
  ['host uid not allowed', { identity: host, requiredLabels: ['a'], hostAllowUids: [0] }, false, /uid 1000 is not in/],
  ['host, empty allow list', { identity: host, requiredLabels: [], hostAllowUids: [] }, false, /not in/],
  [
    'host cannot use labels',
    { identity: host, trust: trust('verified', ['a']), requiredLabels: ['a'], hostAllowUids: [] },
    false,
    /not in/,
  ],
  [
    'unknown caller',
    { identity: unknown, trust: trust('verified', ['a']), requiredLabels: ['a'], hostAllowUids: [0] },
    false,
    /unknown: process exited/,
  ],
];

for (const [what, input, allow, reason] of table) {
  test(`authorize: ${what}`, (t) => {
    const d = authorize(input);
    t.is(d.allow, allow);
    t.regex(d.reason, reason);
  });
}

test('effectiveLabels: the union (the intersection of the two grants), sorted, deduplicated', (t) => {
  t.deepEqual(effectiveLabels(['b', 'a'], ['a', 'c']), ['a', 'b', 'c']);
  t.deepEqual(effectiveLabels(['a'], ['a']), ['a']);
  t.deepEqual(effectiveLabels([], ['x']), ['x'], 'removing a label in the manifest cannot widen past the sealing');
});

test('relabelling in the manifest alone does not widen access', (t) => {
  // Sealed for [billing]; an attacker edits the manifest to [public].
  const required = effectiveLabels(['public'], ['billing']);
  t.false(
    authorize({
      identity: container,
      trust: trust('verified', ['public']),
      requiredLabels: required,
      hostAllowUids: [],
    }).allow,
  );
  t.true(
    authorize({
      identity: container,
      trust: trust('verified', ['public', 'billing']),
      requiredLabels: required,
      hostAllowUids: [],
    }).allow,
  );
});
