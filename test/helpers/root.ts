// Unit tests that need root — to chown a file to another user, mknod a device, or see a file owned by uid 0 —
// are declared with rootTest: they run as root (CI, `npm test`) and are skipped, not failed, without it, so
// that `npm run check` works for any contributor.
import test from 'ava';

export const isRoot = process.getuid?.() === 0;

export const rootTest = isRoot ? test : test.skip;
