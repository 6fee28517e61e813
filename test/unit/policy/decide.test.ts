import test from 'ava';
import type { Identity } from '../../../src/identity/types.js';
import type { TrustDecision } from '../../../src/trust/types.js';
import {
  attestCaller,
  attestIdentity,
  decide,
  isFailClosed,
  mayAllowLabels,
  SealedFactsRegistry,
  type Caller,
} from '../../../src/policy/index.js';

const app: Identity = {
  kind: 'container',
  pid: 10,
  tgid: 10,
  uid: 1000,
  gid: 1000,
  containerId: 'a'.repeat(64),
  name: 'app',
  imageId: 'sha256:' + 'a'.repeat(64),
};
const ctx = { pid: 10, uid: 1000, gid: 1000 };
const verified = (labels: string[]): TrustDecision => ({
  state: 'verified',
  labels,
  provider: 'notary',
  reason: 'signed',
});
const caller = (labels: string[]): Caller => ({ ctx, identity: app, trust: verified(labels) });
const secret = { name: 'db', labels: ['demo'], version: 'v1' };

test('decide: the manifest labels decide until a decrypt has shown the sealed ones', (t) => {
  t.like(decide(caller(['demo']), secret, { hostAllowUids: [] }), { allow: true, class: 'allowed' });
  t.like(decide(caller([]), secret, { hostAllowUids: [] }), { allow: false, class: 'missing-labels' });
  const sealed = { version: 'v1', size: 3, sealedName: 'db', sealedLabels: ['billing'] };
  t.like(decide(caller(['demo']), secret, { hostAllowUids: [], sealed }), {
    allow: false,
    class: 'sealed-labels',
    reason: 'sealed labels: app: missing label billing',
  });
  t.like(decide(caller(['demo', 'billing']), secret, { hostAllowUids: [], sealed }), { allow: true, class: 'allowed' });
  t.like(
    decide(caller([]), secret, { hostAllowUids: [], sealed }),
    { allow: false, class: 'missing-labels' },
    'the manifest check comes first',
  );
  t.like(
    decide(caller(['demo', 'billing']), secret, { hostAllowUids: [], sealed: { ...sealed, sealedName: 'other' } }),
    { allow: false, class: 'sealed-name' },
  );
  t.like(
    decide(caller(['demo']), secret, { hostAllowUids: [], sealed: { ...sealed, version: 'v0' } }),
    { allow: true },
    'facts about another ciphertext version are ignored',
  );
});

test('decide: failed callers are failed closed, host callers by uid', (t) => {
  const unknown: Caller = {
    ctx,
    identity: { kind: 'unknown', pid: 10, tgid: 10, uid: 1000, gid: 1000, reason: 'gone' },
    failure: 'identity unknown: gone',
  };
  const d = decide(unknown, secret, { hostAllowUids: [1000] });
  t.like(d, { allow: false, class: 'caller-unknown', reason: 'identity unknown: gone' });
  t.true(isFailClosed(d));
  const broken: Caller = {
    ctx,
    identity: app,
    trust: { state: 'error', labels: [], provider: 'notary', reason: 'down' },
    failure: 'trust failed: down',
  };
  t.like(decide(broken, secret, { hostAllowUids: [] }), { allow: false, class: 'trust-failed' });
  const unsigned: Caller = {
    ctx,
    identity: app,
    trust: { state: 'unsigned', labels: ['demo'], provider: 'notary', reason: 'no target' },
  };
  const u = decide(unsigned, secret, { hostAllowUids: [] });
  t.like(u, { allow: false, class: 'untrusted-image' });
  t.false(isFailClosed(u));
  const host: Caller = { ctx, identity: { kind: 'host', pid: 10, tgid: 10, uid: 0, gid: 0 } };
  t.like(decide(host, secret, { hostAllowUids: [] }), { allow: false, class: 'host-not-allowed' });
  t.like(decide(host, secret, { hostAllowUids: [0] }), { allow: true });
  t.like(
    decide(host, secret, { hostAllowUids: [0], sealed: { version: 'v1', size: 1, sealedName: 'x', sealedLabels: [] } }),
    { allow: false, class: 'sealed-name' },
  );
});

test('attestCaller: a throwing resolver or trust service fails closed, never throws', async (t) => {
  const trust = { verifiedLabels: async () => verified(['demo']) };
  const thrown = await attestCaller(ctx, { resolve: async () => Promise.reject(new Error('boom')) }, trust);
  t.is(thrown.identity.kind, 'unknown');
  t.regex(thrown.failure ?? '', /identity resolver failed: boom/);
  const badTrust = await attestIdentity(ctx, app, { verifiedLabels: async () => Promise.reject(new Error('down')) });
  t.regex(badTrust.failure ?? '', /trust failed: trust service failed: down/);
  const { imageId: _none, ...appWithoutImage } = app;
  const noImage = await attestIdentity(ctx, appWithoutImage, trust);
  t.regex(noImage.failure ?? '', /no image id/);
  const ok = await attestCaller(ctx, { resolve: async () => app }, trust);
  t.is(ok.failure, undefined);
  t.deepEqual(ok.trust?.labels, ['demo']);
});

test('SealedFactsRegistry: facts are per ciphertext version', (t) => {
  const r = new SealedFactsRegistry();
  r.learn('db', { version: 'v1', size: 2, sealedName: 'db', sealedLabels: ['a'] });
  t.is(r.factsFor({ name: 'db', version: 'v1' })?.size, 2);
  t.is(r.factsFor({ name: 'db', version: 'v2' }), undefined);
  r.retain('db', 'v1');
  t.truthy(r.factsFor({ name: 'db', version: 'v1' }));
  r.retain('db', 'v2');
  t.is(r.factsFor({ name: 'db', version: 'v1' }), undefined);
});

test('decide: namespaces: narrows a secret to pods of those namespaces, after labels and trust', (t) => {
  const pod = (namespace: string): Identity => ({
    ...app,
    pod: { namespace, name: 'api', uid: '6f2c1c8e-1d2b-4a8e-9a51-0c7a1b2c3d4e', container: 'app' },
  });
  const namespaced = { ...secret, namespaces: ['payments'] };
  const asPod = (namespace: string, labels: string[]): Caller => ({
    ctx,
    identity: pod(namespace),
    trust: verified(labels),
  });
  t.like(decide(asPod('payments', ['demo']), namespaced, { hostAllowUids: [] }), { allow: true, class: 'allowed' });
  t.like(decide(asPod('shop', ['demo']), namespaced, { hostAllowUids: [] }), {
    allow: false,
    class: 'wrong-namespace',
    reason: 'app: pod namespace shop is not one of payments',
  });
  t.like(decide(asPod('payments', []), namespaced, { hostAllowUids: [] }), { class: 'missing-labels' }, 'labels first');
  t.like(
    decide(caller(['demo']), namespaced, { hostAllowUids: [] }),
    { allow: false, class: 'wrong-namespace' },
    'not a pod',
  );
  const host: Caller = { ctx, identity: { kind: 'host', pid: 1, tgid: 1, uid: 0, gid: 0 } };
  t.like(
    decide(host, namespaced, { hostAllowUids: [0] }),
    { allow: false, class: 'wrong-namespace' },
    'host callers too',
  );
  t.like(decide(asPod('shop', ['demo']), secret, { hostAllowUids: [] }), { allow: true }, 'no namespaces: any');
});

test('mayAllowLabels never rules out a secret decide() would allow (every trust state, label set and sealing)', (t) => {
  const subsets = [[], ['demo'], ['billing'], ['demo', 'billing'], ['demo', 'billing', 'ops']];
  const states: TrustDecision['state'][] = ['verified', 'unverified', 'unsigned', 'error'];
  let ruledOut = 0;
  for (const state of states)
    for (const held of subsets)
      for (const labels of subsets)
        for (const sealedLabels of [undefined, ...subsets]) {
          const c: Caller = { ctx, identity: app, trust: { ...verified(held), state } };
          const sealed = sealedLabels && { version: 'v1', size: 1, sealedName: 'db', sealedLabels };
          const allowed = decide(c, { name: 'db', labels, version: 'v1' }, { hostAllowUids: [], sealed }).allow;
          if (!mayAllowLabels(c)(labels)) {
            ruledOut++;
            t.false(allowed, JSON.stringify({ state, held, labels, sealedLabels }));
          }
        }
  t.true(ruledOut > 0, 'the shortcut rules some out');
  t.false(mayAllowLabels({ ctx, identity: app, trust: verified(['demo']), failure: 'x' })(['demo']));
  t.true(mayAllowLabels(caller(['demo', 'ops']))(['demo']));
});
