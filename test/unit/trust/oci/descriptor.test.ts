// Descriptors from hostile registry JSON: only well-formed ones come out.
import test from 'ava';
import { parseDescriptors } from '../../../../src/trust/oci/descriptor.js';

const good = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${'a'.repeat(64)}`,
  size: 1,
  artifactType: 'application/vnd.cncf.notary.signature',
  annotations: { k: 'v' },
};

test('well-formed descriptors pass unchanged', (t) => {
  t.deepEqual(parseDescriptors([good]), [good]);
});

test('malformed descriptors are left out', (t) => {
  const bad = [
    { ...good, digest: 'sha512:00' },
    { ...good, digest: `sha256:${'A'.repeat(64)}` },
    { ...good, size: -1 },
    { ...good, size: 1.5 },
    { ...good, annotations: { a: 1 } },
    { ...good, annotations: [] },
    { ...good, mediaType: 'no slash' },
    { ...good, artifactType: 7 },
    'x',
    null,
    [good],
  ];
  t.deepEqual(parseDescriptors([...bad, good]), [good]);
  t.deepEqual(parseDescriptors({ manifests: [good] }), []);
  t.deepEqual(parseDescriptors(undefined), []);
});

test('a flood of descriptors is cut at the limit', (t) => {
  t.is(parseDescriptors(new Array(5000).fill(good)).length, 1000);
});
