// `pal secrets` and `pal explain` show the secrets an image carries, with their image of origin,
// and explain decides on them exactly as open() does (the same policy, the host still winning).

import test from 'ava';
import { explain, type ExplainDeps } from '../../../src/daemon/explain.js';
import { secretRows } from '../../../src/daemon/secret-rows.js';
import { formatExplanation, formatSecrets } from '../../../src/cli/admin-format.js';
import type { ImageSecretSource } from '../../../src/fs/index.js';
import type { Identity } from '../../../src/identity/types.js';
import { harness, entry, container, IMAGE_DEMO, IMAGE_PLAIN, type Harness } from '../fs/fakes.js';

const IMAGE_APP = 'sha256:' + 'e'.repeat(64);

test('secretRows lists the host entries, then each image entry with its image, a clash marked shadowed', (t) => {
  const host = new Map([['db', entry('db', ['app'])]]);
  const images = [
    {
      image: IMAGE_APP,
      entries: new Map([
        ['app.tar.gz', entry('app.tar.gz', ['app'], { image: IMAGE_APP, ciphertext: Buffer.from('C') })],
        ['db', entry('db', ['app'], { image: IMAGE_APP, ciphertext: Buffer.from('D') })],
      ]),
      problems: [],
    },
  ];
  const rows = secretRows(host, images);
  t.deepEqual(
    rows.map((r) => [r.name, r.origin, r.shadowed ?? false]),
    [
      ['db', 'host', false],
      ['app.tar.gz', IMAGE_APP, false],
      ['db', IMAGE_APP, true],
    ],
  );
  t.false(JSON.stringify(rows).includes('"ciphertext"'), 'no ciphertext bytes in the admin answer');
  const text = formatSecrets(rows);
  t.regex(text, /ORIGIN/);
  t.regex(text, /^app\.tar\.gz\s.*image sha256:eeeeeeeeeeee$/m);
  t.regex(text, /^db\s.*image sha256:eeeeeeeeeeee \(shadowed by host\)$/m);
  t.regex(text, /^db\s.*\shost$/m);
});

function deps(h: Harness, identity: Identity, calls: string[]): ExplainDeps {
  const imageSecrets: ImageSecretSource = {
    forCaller: (caller) => {
      calls.push(caller.identity.imageId ?? '');
      const served =
        caller.identity.imageId === IMAGE_DEMO
          ? [entry('app.tar.gz', ['demo'], { image: IMAGE_DEMO, ciphertext: Buffer.from('C') })]
          : [];
      return Promise.resolve(new Map(served.map((e) => [e.name, e])));
    },
  };
  return {
    identity: { inspectContainer: () => Promise.resolve(identity) },
    trust: h.deps.trust,
    manifest: h.deps.manifest,
    hostAllowUids: h.deps.hostAllowUids,
    sealedFacts: h.sealedFacts,
    imageSecrets,
  };
}

test('explain finds a secret in the container image, names the image, and decides with policy', async (t) => {
  const h = harness([entry('host-secret', ['demo'])]);
  const calls: string[] = [];
  const allowed = await explain(deps(h, container(1, IMAGE_DEMO, 'app'), calls), 'app', 'app.tar.gz');
  t.true(allowed.allow, allowed.reason);
  t.is(allowed.secret?.image, IMAGE_DEMO);
  t.regex(formatExplanation(allowed), /secret {5}app\.tar\.gz needs \[demo\] \(carried by image sha256:a{64}\)/);

  const other = await explain(deps(h, container(2, IMAGE_PLAIN, 'other'), calls), 'other', 'app.tar.gz');
  t.false(other.allow);
  t.is(other.class, 'no-such-secret');
  t.regex(other.reason, /or in the container's image/);

  // A host secret is answered from the host manifest without reading the image.
  const before = calls.length;
  const host = await explain(deps(h, container(1, IMAGE_DEMO, 'app'), calls), 'app', 'host-secret');
  t.is(host.secret?.image, undefined);
  t.is(calls.length, before);
});

test('explain of an image secret for a container lacking its labels is a missing-labels denial', async (t) => {
  const h = harness([]);
  const who = { ...container(1, IMAGE_DEMO, 'app'), imageId: IMAGE_DEMO };
  const d = deps(h, who, []);
  // IMAGE_DEMO carries app.tar.gz; a second entry needs a label the image's trust does not give.
  const carried = entry('narrow', ['billing'], { image: IMAGE_DEMO, ciphertext: Buffer.from('N') });
  const answer = await explain(
    { ...d, imageSecrets: { forCaller: () => Promise.resolve(new Map([['narrow', carried]])) } },
    'app',
    'narrow',
  );
  t.false(answer.allow);
  t.is(answer.class, 'missing-labels');
  t.is(answer.secret?.image, IMAGE_DEMO);
});
