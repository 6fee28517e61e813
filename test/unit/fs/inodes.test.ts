import test from 'ava';
import { randomBytes } from 'node:crypto';
import { SecretInodes, keyedInoDerivation, palFileName, ROOT_INO, PAL_DIR_INO } from '../../../src/fs/inodes.js';

const V1 = 'a'.repeat(64);
const V2 = 'b'.repeat(64);

test("a secret's inode does not depend on how many names, or which, were seen before it", (t) => {
  const key = randomBytes(32);
  const busy = new SecretInodes(keyedInoDerivation(key));
  for (let i = 0; i < 100; i++) busy.inoFor(`other-${i}`, V1);
  const quiet = new SecretInodes(keyedInoDerivation(key));
  t.is(busy.inoFor('db-password', V1), quiet.inoFor('db-password', V1));
  // Nor does its distance from another name's say anything: numbers are spread over 2^48.
  t.true(Math.abs(busy.inoFor('db-password', V1) - busy.inoFor('other-99', V1)) > 1_000_000);
});

test('inode numbers come from a per-run random key: two runs number the same name differently', (t) => {
  t.not(new SecretInodes().inoFor('db-password', V1), new SecretInodes().inoFor('db-password', V1));
});

test('each version of a name is an inode of its own, and every one maps back to the name', (t) => {
  const inodes = new SecretInodes();
  const first = inodes.inoFor('db-password', V1);
  const rotated = inodes.inoFor('db-password', V2);
  t.not(rotated, first, 'a rotated secret is a new inode (passthrough allows one content per inode)');
  t.is(inodes.inoFor('db-password', V1), first, 'stable for the life of the daemon');
  t.is(inodes.nameOf(first), 'db-password');
  t.is(inodes.nameOf(rotated), 'db-password');
  t.deepEqual(new Set(inodes.inosOf('db-password')), new Set([first, rotated]));
  t.deepEqual(inodes.inosOf('never-seen'), []);
});

test("a restarted pald numbers in its own epoch and knows the previous epoch's numbers it adopted", (t) => {
  const key = randomBytes(32);
  const before = new SecretInodes(keyedInoDerivation(key), 1);
  const after = new SecretInodes(keyedInoDerivation(key), 2);
  const old = before.inoFor('tls-key', V1);
  const fresh = after.inoFor('tls-key', V1);
  t.not(fresh, old, "the next pald never opens an inode whose files the previous one's backings serve");
  t.is(after.nameOf(old), undefined, 'not known until adopted');
  t.is(after.adopt(1, 'tls-key', V1), old, 'same key, same epoch: same number');
  t.is(after.nameOf(old), 'tls-key');
  t.is(after.inoFor('tls-key', V1), fresh, 'adopting does not change what lookups answer');
});

test('collisions and reserved numbers are re-derived; a number is never given to two versions', (t) => {
  // A derivation that collides on purpose: every first candidate is 100, then 5 (reserved).
  const inodes = new SecretInodes((identity, attempt) =>
    attempt === 0 ? 100 : attempt === 1 ? 5 : 1000 + identity.length * 10 + attempt,
  );
  const a = inodes.inoFor('a', V1);
  const bb = inodes.inoFor('bb', V1);
  const a2 = inodes.inoFor('a', V2);
  t.is(a, 100);
  t.not(bb, a);
  t.true(bb >= 16, 'never a reserved number');
  t.false([a, bb].includes(a2));
  t.is(inodes.nameOf(a), 'a');
  t.is(inodes.nameOf(bb), 'bb');
  t.is(inodes.nameOf(a2), 'a');
  t.is(inodes.inoFor('bb', V1), bb, 'stable once given');
  t.throws(() => new SecretInodes(() => 7).inoFor('x', V1), { message: /no free inode number/ });
});

test('secret numbers never land on the root, .pal or its files', (t) => {
  const inodes = new SecretInodes();
  for (let i = 0; i < 1000; i++) {
    const ino = inodes.inoFor(`s${i}`, V1);
    t.true(Number.isSafeInteger(ino) && ino !== ROOT_INO && ino !== PAL_DIR_INO && palFileName(ino) === undefined);
  }
});
