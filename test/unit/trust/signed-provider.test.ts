// trust.mode signed over several providers: the union of what each verified, each claim and each
// "why not" naming its provider; errors only when nothing verified.
import test from 'ava';
import { combineProviders } from '../../../src/trust/signed-provider.js';
import type { ProviderResult, TrustProvider } from '../../../src/trust/provider.js';
import type { ImageSubject } from '../../../src/trust/types.js';

const image: ImageSubject = { imageId: 'sha256:' + 'a'.repeat(64), repoDigests: [], repoTags: [], imageLabels: {} };

function fake(name: string, result: ProviderResult | Error): TrustProvider {
  return {
    name,
    async labelsFor() {
      if (result instanceof Error) throw result;
      return result;
    },
    async close() {},
  };
}

const verified = (labels: string[], expiresAt?: number): ProviderResult => ({
  state: 'verified',
  claims: [{ source: 'repo', labels, grants: labels, detail: 'signed' }],
  reason: '',
  ...(expiresAt !== undefined ? { expiresAt } : {}),
});

test('one provider stays itself', (t) => {
  const p = fake('notary', verified(['a']));
  t.is(combineProviders([p]), p);
});

test('the union of verified claims, each naming its provider, and why the others did not grant', async (t) => {
  const p = combineProviders([
    fake('notary', { state: 'unsigned', claims: [], reason: 'no collection matches' }),
    fake('notation', verified(['billing'], 2000)),
    fake('cosign', verified(['db'], 1000)),
  ]);
  t.is(p.name, 'notary+notation+cosign');
  const r = await p.labelsFor(image);
  t.is(r.state, 'verified');
  t.deepEqual(
    r.claims.map((c) => [c.labels, c.detail]),
    [
      [['billing'], 'notation: signed'],
      [['db'], 'cosign: signed'],
    ],
  );
  t.is(r.expiresAt, 1000);
  t.regex(r.reason, /notary: unsigned \(no collection matches\)/);
});

test('nothing verified: an error if any provider failed (transient only if all failures are), else unsigned', async (t) => {
  const down = { state: 'error', claims: [], reason: 'registry down', transient: true } as const;
  const bad = { state: 'error', claims: [], reason: 'bad signature' } as const;
  const none = { state: 'unsigned', claims: [], reason: 'nothing' } as const;
  let r = await combineProviders([fake('a', down), fake('b', none)]).labelsFor(image);
  t.is(r.state, 'error');
  t.true(r.transient);
  r = await combineProviders([fake('a', down), fake('b', bad)]).labelsFor(image);
  t.false(r.transient);
  t.regex(r.reason, /a: error \(registry down\); b: error \(bad signature\)/);
  r = await combineProviders([fake('a', none), fake('b', new Error('boom'))]).labelsFor(image);
  t.is(r.state, 'error');
  t.regex(r.reason, /b: error \(provider failed: boom\)/);
  r = await combineProviders([fake('a', none), fake('b', none)]).labelsFor(image);
  t.is(r.state, 'unsigned');
});
