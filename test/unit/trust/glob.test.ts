import test from 'ava';
import { globMatches } from '../../../src/trust/glob.js';

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
