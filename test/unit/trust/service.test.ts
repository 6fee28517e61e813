// The trust service above the providers: grants, label syntax, caching, expiry, fail-closed.
// Uses fake providers (our own TrustProvider interface).
import test from 'ava';
import { TrustServiceImpl } from '../../../src/trust/service.js';
import type { ProviderResult, TrustProvider } from '../../../src/trust/provider.js';
import type { ImageSubject } from '../../../src/trust/types.js';
import { createTrustService, NONE_MODE_WARNING } from '../../../src/trust/index.js';
import { combineProviders } from '../../../src/trust/combined-provider.js';

const image = (n = 1, extra: Partial<ImageSubject> = {}): ImageSubject => ({
  imageId: `sha256:${String(n).padStart(64, '0')}`,
  repoTags: ['localhost:5000/pal/demo:1'],
  repoDigests: [],
  imageLabels: {},
  ...extra,
});

function fakeProvider(answer: () => ProviderResult | Promise<ProviderResult>) {
  const p = {
    calls: 0,
    name: 'fake',
    async labelsFor() {
      p.calls++;
      return answer();
    },
    async close() {},
  };
  return p satisfies TrustProvider;
}

function setup(answer: () => ProviderResult | Promise<ProviderResult>, refreshMs = 30_000) {
  const clock = { now: 1_000_000 };
  const log: string[] = [];
  const provider = fakeProvider(answer);
  const service = new TrustServiceImpl(provider, { log: (m) => log.push(m), now: () => clock.now, refreshMs });
  return { clock, log, provider, service };
}

const verified = (labels: string[], grants: string[], expiresAt = 5_000_000): ProviderResult => ({
  state: 'verified',
  claims: [{ source: 'localhost:5000/pal/demo', labels, grants, detail: 'target "1"' }],
  reason: '',
  expiresAt,
});

test('labels outside the grants are dropped, reported and logged; malformed labels never pass', async (t) => {
  const { service, log } = setup(() =>
    verified(['billing', 'ops', 'x/../y', '.hidden', 'billing'], ['billing', 'x/../y', '.hidden']),
  );
  const d = await service.verifiedLabels(image());
  t.is(d.state, 'verified');
  t.deepEqual(d.labels, ['billing']);
  t.deepEqual(d.droppedLabels, ['ops']);
  t.is(d.collection, 'localhost:5000/pal/demo');
  t.regex(d.reason, /not granted to localhost:5000\/pal\/demo: ops/);
  t.regex(d.reason, /malformed labels ignored/);
  t.true(log.some((l) => l.includes('ops')));
});

test('an error or unsigned result carries no labels, whatever the provider claims', async (t) => {
  for (const state of ['error', 'unsigned'] as const) {
    const { service } = setup(() => ({ ...verified(['billing'], ['billing']), state, reason: 'nope' }));
    const d = await service.verifiedLabels(image());
    t.is(d.state, state);
    t.deepEqual(d.labels, []);
    t.is(d.collection, undefined);
  }
});

test('a provider that throws gives an error decision', async (t) => {
  const { service } = setup(() => {
    throw new Error('boom');
  });
  const d = await service.verifiedLabels(image());
  t.is(d.state, 'error');
  t.regex(d.reason, /fake provider failed: boom/);
  t.false(service.status().healthy);
});

test('decisions are cached per image until min(refresh, metadata expiry)', async (t) => {
  const { service, provider, clock } = setup(() => verified(['billing'], ['billing'], 1_000_000 + 10_000));
  const d = await service.verifiedLabels(image());
  t.is(d.expiresAt, 1_010_000, 'metadata expiry is sooner than the 30 s refresh');
  await service.verifiedLabels(image());
  t.is(provider.calls, 1);
  await service.verifiedLabels(image(2));
  await service.verifiedLabels(image(1, { repoTags: ['localhost:5000/pal/other:1'] }));
  t.is(provider.calls, 3, 'keyed by image id and repositories');
  t.is(service.status().cachedImages, 3);
  clock.now += 10_000;
  await service.verifiedLabels(image());
  t.is(provider.calls, 4);
  service.reset();
  t.is(service.status().cachedImages, 0);
  await service.verifiedLabels(image());
  t.is(provider.calls, 5);
});

test('concurrent lookups of one image share one provider call', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const { service, provider } = setup(async () => {
    await gate;
    return verified(['billing'], ['billing']);
  });
  const all = Promise.all([1, 2, 3].map(() => service.verifiedLabels(image())));
  release();
  const ds = await all;
  t.is(provider.calls, 1);
  t.true(ds.every((d) => d.labels[0] === 'billing'));
});

test('unreachable at refresh: the last verified decision stands until its metadata expires', async (t) => {
  let answer: ProviderResult = verified(['billing'], ['billing'], 1_000_000 + 120_000);
  const { service, clock, provider } = setup(() => answer);
  t.deepEqual((await service.verifiedLabels(image())).labels, ['billing']);
  answer = { state: 'error', claims: [], reason: 'notary server unreachable: ECONNREFUSED', transient: true };
  clock.now += 31_000;
  const kept = await service.verifiedLabels(image());
  t.is(kept.state, 'verified');
  t.deepEqual(kept.labels, ['billing']);
  t.regex(kept.reason, /kept from the last verification/);
  t.false(service.status().healthy);
  clock.now += 31_000;
  const again = await service.verifiedLabels(image());
  t.is(provider.calls, 3, 'keeps asking every refresh interval');
  t.is(again.reason.match(/kept from/g)?.length, 1, 'the reason does not grow with each refresh');
  const stranger = await service.verifiedLabels(image(9));
  t.is(stranger.state, 'error');
  t.deepEqual(stranger.labels, []);
  const calls = provider.calls;
  clock.now += 5_000;
  await service.verifiedLabels(image(9));
  t.is(provider.calls, calls + 1, 'a failure is retried after 5 s, not 30 s');
  clock.now = 1_000_000 + 120_000;
  const expired = await service.verifiedLabels(image());
  t.is(expired.state, 'error');
  t.deepEqual(expired.labels, []);
  answer = verified(['billing'], ['billing'], clock.now + 120_000);
  clock.now += 31_000;
  t.deepEqual((await service.verifiedLabels(image())).labels, ['billing']);
  t.true(service.status().healthy, 'healthy again once Notary answers');
});

test('bad signed data at refresh revokes at once (only unreachability keeps old labels)', async (t) => {
  let answer: ProviderResult = verified(['billing'], ['billing']);
  const { service, clock } = setup(() => answer);
  await service.verifiedLabels(image());
  answer = { state: 'error', claims: [], reason: 'targets: expired' };
  clock.now += 31_000;
  const d = await service.verifiedLabels(image());
  t.is(d.state, 'error');
  t.deepEqual(d.labels, []);
  answer = { state: 'unsigned', claims: [], reason: 'no signed target' };
  clock.now += 31_000;
  t.is((await service.verifiedLabels(image())).state, 'unsigned');
});

test('mode none: image and container pal.labels, unverified, with a loud warning', async (t) => {
  const log: string[] = [];
  const s = createTrustService({ mode: 'none' }, { log: (m) => log.push(m) });
  const d = await s.verifiedLabels(
    image(1, { imageLabels: { 'pal.labels': 'a,b' }, runtimeLabels: { 'pal.labels': 'c, bad label' } }),
  );
  t.is(d.state, 'unverified');
  t.is(d.provider, 'none');
  t.deepEqual(d.labels, ['a', 'b', 'c']);
  t.is(s.status().warning, NONE_MODE_WARNING);
  t.is(s.status().mode, 'none');
  t.true(log.some((l) => l.startsWith('WARNING') && l.includes('NOT verified')));
  t.true(log.some((l) => l.includes('UNVERIFIED labels [a, b, c]')));
  // Two containers of one image with different runtime labels must not share a cached answer.
  const other = await s.verifiedLabels(
    image(1, { imageLabels: { 'pal.labels': 'a,b' }, runtimeLabels: { 'pal.labels': 'z' } }),
  );
  t.deepEqual(other.labels, ['a', 'b', 'z']);
  await s.close();
});

test('mode notary without a usable configuration fails closed and says why', async (t) => {
  const missing = createTrustService({ mode: 'notary' }, { log: () => {} });
  t.is((await missing.verifiedLabels(image())).state, 'error');
  t.false(missing.status().healthy);
  const badCa = createTrustService(
    {
      mode: 'notary',
      notary: { server: 'https://127.0.0.1:1', ca: '/nonexistent/ca.pem', timeoutMs: 100, collections: [] },
    },
    { log: () => {} },
  );
  const d = await badCa.verifiedLabels(image());
  t.is(d.state, 'error');
  t.regex(d.reason, /ENOENT/);
  t.regex(badCa.status().reason ?? '', /not usable/);
});

test('several providers: each label names the providers that granted it; each provider says what it found', async (t) => {
  const named = (name: string, answer: ProviderResult): TrustProvider => ({
    name,
    labelsFor: async () => answer,
    close: async () => {},
  });
  const claim = (labels: string[], grants: string[]) => ({
    source: 'r/x',
    labels,
    grants,
    detail: `signed ${labels.join(',')}`,
  });
  const combined = combineProviders([
    named('notary', { state: 'verified', claims: [claim(['billing', 'ops'], ['billing'])], reason: '' }),
    named('cosign', { state: 'verified', claims: [claim(['billing', 'db'], ['billing', 'db'])], reason: '' }),
    named('notation', { state: 'unsigned', claims: [], reason: 'no Notation signature for r/x' }),
    named('other', { state: 'error', claims: [], reason: 'signature does not verify' }),
  ]);
  const service = new TrustServiceImpl(combined, { log: () => {}, now: () => 1, refreshMs: 1000 });
  const d = await service.verifiedLabels(image());
  t.deepEqual(d.labels, ['billing', 'db']);
  t.deepEqual(d.grantedBy, { billing: ['cosign', 'notary'], db: ['cosign'] });
  t.deepEqual(
    d.providers?.map((p) => [p.provider, p.state, p.labels, p.droppedLabels]),
    [
      ['notary', 'verified', ['billing'], ['ops']],
      ['cosign', 'verified', ['billing', 'db'], undefined],
      ['notation', 'unsigned', [], undefined],
      ['other', 'error', [], undefined],
    ],
  );
  t.regex(d.providers![2]!.reason, /no Notation signature/);
  t.regex(d.providers![3]!.reason, /does not verify/);
  // Nothing verified: no labels, and no provider is said to have granted any.
  const none = new TrustServiceImpl(
    combineProviders([
      named('cosign', { state: 'error', claims: [], reason: 'bad' }),
      named('notation', { state: 'unsigned', claims: [], reason: 'none' }),
    ]),
    { log: () => {}, now: () => 1, refreshMs: 1000 },
  );
  const n = await none.verifiedLabels(image());
  t.deepEqual(n.grantedBy, {});
  t.deepEqual(
    n.providers?.map((p) => p.state),
    ['error', 'unsigned'],
  );
});
