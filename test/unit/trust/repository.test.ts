import test from 'ava';
import { imageRepositories, normaliseRepository } from '../../../src/trust/repository.js';

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
