import test from 'ava';
import { globMatches } from '../../../src/trust/glob.js';
import { imageRepositories, normaliseRepository } from '../../../src/trust/repository.js';
import { customDataLabels, isValidLabel, parseLabelList } from '../../../src/trust/labels.js';

test('glob: * stays in one segment, ** crosses segments, the rest is literal', (t) => {
  t.true(globMatches('registry.example.com/billing/*', 'registry.example.com/billing/app'));
  t.false(globMatches('registry.example.com/billing/*', 'registry.example.com/billing/team/app'));
  t.true(globMatches('registry.example.com/**', 'registry.example.com/billing/team/app'));
  t.false(globMatches('registry.example.com/*', 'registryXexample.com/app'), 'dot is literal');
  t.true(globMatches('localhost:5000/pal/demo', 'localhost:5000/pal/demo'));
  t.false(globMatches('localhost:5000/pal/demo', 'localhost:5000/pal/demo2'), 'whole-name match');
  t.false(globMatches('*/app', 'a/b/app'));
  t.true(globMatches('docker.io/library/bus*', 'docker.io/library/busybox'));
  t.false(globMatches('(a|b)', 'a'), 'regex syntax is literal');
});

test('repository names are normalised the way Docker names them', (t) => {
  t.is(normaliseRepository('busybox'), 'docker.io/library/busybox');
  t.is(normaliseRepository('user/app'), 'docker.io/user/app');
  t.is(normaliseRepository('docker.io/busybox'), 'docker.io/library/busybox');
  t.is(normaliseRepository('index.docker.io/user/app'), 'docker.io/user/app');
  t.is(normaliseRepository('localhost:5000/pal/demo'), 'localhost:5000/pal/demo');
  t.is(normaliseRepository('localhost/app'), 'localhost/app');
  t.is(normaliseRepository('registry.example.com/billing/app'), 'registry.example.com/billing/app');
  for (const bad of ['', 'UPPER', 'a//b', 'a/../b', 'host:99999999/x', '-x', 'a b', 'x/y?z', '../etc']) {
    t.is(normaliseRepository(bad), undefined, bad);
  }
});

test('image repositories: tags stripped, digests kept per repository, <none> skipped', (t) => {
  const hex = 'a'.repeat(64);
  const repos = imageRepositories({
    repoTags: ['busybox:latest', 'localhost:5000/pal/demo:1.0', '<none>:<none>', 'Bad:Tag'],
    repoDigests: [`localhost:5000/pal/demo@sha256:${hex}`, 'user/app@sha256:short', `<none>@sha256:${hex}`],
  });
  t.deepEqual([...repos.keys()].sort(), ['docker.io/library/busybox', 'localhost:5000/pal/demo']);
  t.deepEqual([...repos.get('localhost:5000/pal/demo')!], [hex]);
  t.deepEqual([...repos.get('docker.io/library/busybox')!], []);
});

test('image repositories survive hostile input', (t) => {
  const repos = imageRepositories({
    repoTags: [42 as unknown as string, 'x'.repeat(10_000)],
    repoDigests: [null as unknown as string],
  });
  t.is(repos.size, 0);
  t.is(
    imageRepositories({ repoTags: undefined as unknown as string[], repoDigests: undefined as unknown as string[] })
      .size,
    0,
  );
});

test('labels: syntax, comma lists and target custom data', (t) => {
  t.true(isValidLabel('production-team-secret'));
  t.true(isValidLabel('a.b_c-1'));
  for (const bad of ['', '.hidden', 'a b', 'a/b', 'ä', 'x'.repeat(200), 'a,b', 'Ops', '_x'])
    t.false(isValidLabel(bad), bad);
  t.deepEqual(parseLabelList(' a, b,,c '), ['a', 'b', 'c']);
  t.deepEqual(parseLabelList(undefined), []);
  t.deepEqual(customDataLabels({ pal: { labels: ['a', 'b'] } }), { labels: ['a', 'b'] });
  t.deepEqual(customDataLabels({ other: 1 }), { labels: [] });
  t.deepEqual(customDataLabels(null), { labels: [] });
  t.deepEqual(customDataLabels(['pal']), { labels: [] });
  t.truthy(customDataLabels({ pal: { labels: 'a' } }).problem);
  t.truthy(customDataLabels({ pal: { labels: ['a', 1] } }).problem);
  t.truthy(customDataLabels({ pal: null }).problem);
});
