// parseCgroupFile is linear in its input and bounded before parsing (issue 21 item 7).
import test from 'ava';
import { parseCgroupFile } from '../../../src/identity/cgroup.js';
import { growth } from '../../helpers/complexity.js';

test.serial('21.7: a path of many segments parses with work linear in its length', (t) => {
  // The reproducer, at sizes within the 64 KiB bound. Work is counted (characters and items the
  // string, array and regexp built-ins touch), not timed: 4× the segments must be ~4× the work;
  // the quadratic version (re-slicing the ancestors of every segment) was ~16×.
  const r = growth(
    (n) => '0::/' + 'a/'.repeat(n),
    (text) => parseCgroupFile(text),
    7_500,
    4,
  );
  t.log(`work: 7.5k segments ${r.small}, 30k ${r.large}, ratio ${r.ratio.toFixed(2)}`);
  t.true(r.small >= 7_500, 'the counter sees the parse');
  t.true(r.ratio < 6, `4× the segments took ${r.ratio.toFixed(2)}× the work (quadratic is 16×)`);
  t.deepEqual(parseCgroupFile('0::/' + 'a/'.repeat(30_000)), { kind: 'host' });
});

test('21.7: ancestors still count after the rewrite (kubepods anywhere above, docker as parent)', (t) => {
  const id = 'a'.repeat(64);
  t.like(parseCgroupFile(`0::/kubepods/x/y/${id}\n`), { kind: 'container', runtime: 'kubernetes' });
  t.like(parseCgroupFile(`0::/docker/${id}\n`), { kind: 'container', runtime: 'docker' });
  t.like(parseCgroupFile(`0::/x/docker/y/${id}\n`), { kind: 'container', runtime: 'unknown' });
  t.like(parseCgroupFile('0::/kubepods.slice/a/b/0123456789abcdef\n'), { kind: 'unknown' });
  t.like(parseCgroupFile('0::/docker/0123456789abcdef\n'), { kind: 'unknown' });
  t.like(parseCgroupFile('0::/lxc/web\n'), { kind: 'unknown' });
});

test('21.7: the 64 KiB bound is in bytes and comes before parsing', (t) => {
  const multibyte = '0::/' + 'é'.repeat(40_000); // 40,004 characters, 80,004 bytes
  t.deepEqual(parseCgroupFile(multibyte), { kind: 'unknown', reason: 'cgroup file too large (80004 bytes)' });
  t.like(parseCgroupFile('0::/' + 'g'.repeat(65_532)), { kind: 'host' });
  t.like(parseCgroupFile('0::/' + 'g'.repeat(65_533)), {
    kind: 'unknown',
    reason: 'cgroup file too large (65537 bytes)',
  });
});
