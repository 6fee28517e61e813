import test from 'ava';
import { nextPage } from '../../../../src/trust/oci/referrers.js';
import { RegistryError } from '../../../../src/trust/oci/types.js';

const current = new URL('https://r.example/v2/pal/app/referrers/sha256:' + 'a'.repeat(64));

test('Link rel="next": relative, absolute, unquoted and among other links; none → undefined', (t) => {
  const q = '?n=2&last=sha256:' + 'b'.repeat(64);
  t.is(nextPage(`<${current.pathname}${q}>; rel="next"`, current, 'x')?.search, new URL(q, current).search);
  t.is(nextPage(`<${current.href}${q}>;rel=next`, current, 'x')?.href, `${current.href}${q}`);
  t.is(
    nextPage(`<${current.pathname}?p=1>; rel="prev", <${current.pathname}?p=3>; rel="next"`, current, 'x')?.search,
    '?p=3',
  );
  t.is(nextPage(`<${current.pathname}?p=3>; title="x"; rel="last next"`, current, 'x')?.search, '?p=3');
  t.is(nextPage(null, current, 'x'), undefined);
  t.is(nextPage(`<${current.pathname}?p=0>; rel="prev"`, current, 'x'), undefined);
  t.is(nextPage('garbage', current, 'x'), undefined);
});

test('a next link to another origin or another listing, or an oversized header, is refused', (t) => {
  for (const link of [
    `<https://evil.example${current.pathname}?n=1>; rel="next"`,
    `<http://r.example${current.pathname}?n=1>; rel="next"`,
    `</v2/pal/other/referrers/sha256:${'a'.repeat(64)}>; rel="next"`,
    `<${'x'.repeat(5000)}>; rel="next"`,
  ]) {
    const e = t.throws(() => nextPage(link, current, 'referrers'));
    t.true(e instanceof RegistryError && e.kind === 'bad-response', link.slice(0, 80));
  }
});
