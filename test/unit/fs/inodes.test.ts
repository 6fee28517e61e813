import test from 'ava';
import { randomBytes } from 'node:crypto';
import { SecretInodes, keyedInoDerivation, palFileName, ROOT_INO, PAL_DIR_INO } from '../../../src/fs/inodes.js';

test("a secret's inode does not depend on how many names, or which, were seen before it", (t) => {
  const key = randomBytes(32);
  const busy = new SecretInodes(keyedInoDerivation(key));
  for (let i = 0; i < 100; i++) busy.inoFor(`other-${i}`);
  const quiet = new SecretInodes(keyedInoDerivation(key));
  t.is(busy.inoFor('db-password'), quiet.inoFor('db-password'));
  // Nor does its distance from another name's say anything: numbers are spread over 2^48.
  t.true(Math.abs(busy.inoFor('db-password') - busy.inoFor('other-99')) > 1_000_000);
});

test('inode numbers come from a per-run random key: two runs number the same name differently', (t) => {
  t.not(new SecretInodes().inoFor('db-password'), new SecretInodes().inoFor('db-password'));
});

test('collisions and reserved numbers are re-derived; a number is never given to two names', (t) => {
  // A derivation that collides on purpose: every name's first candidate is 100, then 5 (reserved).
  const inodes = new SecretInodes((name, attempt) =>
    attempt === 0 ? 100 : attempt === 1 ? 5 : 1000 + name.length * 10 + attempt,
  );
  const a = inodes.inoFor('a');
  const bb = inodes.inoFor('bb');
  t.is(a, 100);
  t.not(bb, a);
  t.true(bb >= 16, 'never a reserved number');
  t.is(inodes.nameOf(a), 'a');
  t.is(inodes.nameOf(bb), 'bb');
  t.is(inodes.inoFor('bb'), bb, 'stable once given');
  t.is(inodes.peek('ccc'), undefined);
  t.throws(() => new SecretInodes(() => 7).inoFor('x'), { message: /no free inode number/ });
});

test('secret numbers never land on the root, .pal or its files', (t) => {
  const inodes = new SecretInodes();
  for (let i = 0; i < 1000; i++) {
    const ino = inodes.inoFor(`s${i}`);
    t.true(Number.isSafeInteger(ino) && ino !== ROOT_INO && ino !== PAL_DIR_INO && palFileName(ino) === undefined);
  }
});
