import test from 'ava';
import { constants } from 'node:os';
import { createPalFilesystem, ROOT_INO } from '../../../src/fs/index.js';
import type { FuseError } from '../../../src/native/index.js';
import { explain, type ExplainDeps } from '../../../src/daemon/explain.js';
import type { Identity } from '../../../src/identity/types.js';
import type { DecisionClass } from '../../../src/policy/index.js';
import { harness, entry, container, ctx, IMAGE_DEMO, IMAGE_PLAIN, IMAGE_BROKEN, type Harness } from '../fs/fakes.js';

const { EACCES } = constants.errno;
const O_RDONLY = 0;
const IMAGE_UNSIGNED = 'sha256:' + 'd'.repeat(64);
const PID = 4242;
const LOOKUP_PID = 4243;

interface Row {
  readonly what: string;
  /** The caller, as the resolver sees it by pid and as inspectContainer sees it by name. */
  readonly identity: Identity | undefined;
  readonly secretLabels: string[];
  readonly sealed?: { name?: string; labels?: string[] };
  readonly allowUids?: number[];
  readonly allow: boolean;
  readonly class: DecisionClass;
}

const rows: Row[] = [
  {
    what: 'allowed container',
    identity: container(PID, IMAGE_DEMO, 'app'),
    secretLabels: ['demo'],
    allow: true,
    class: 'allowed',
  },
  {
    what: 'container missing a label',
    identity: container(PID, IMAGE_PLAIN, 'app'),
    secretLabels: ['demo'],
    allow: false,
    class: 'missing-labels',
  },
  {
    what: 'container holding the manifest labels but not the sealed ones',
    identity: container(PID, IMAGE_DEMO, 'app'),
    secretLabels: ['demo'],
    sealed: { labels: ['demo', 'billing'] },
    allow: false,
    class: 'sealed-labels',
  },
  {
    what: 'ciphertext sealed under another name',
    identity: container(PID, IMAGE_DEMO, 'app'),
    secretLabels: ['demo'],
    sealed: { name: 'other' },
    allow: false,
    class: 'sealed-name',
  },
  {
    what: 'unsigned image',
    identity: container(PID, IMAGE_UNSIGNED, 'app'),
    secretLabels: ['demo'],
    allow: false,
    class: 'untrusted-image',
  },
  {
    what: 'trust failure',
    identity: container(PID, IMAGE_BROKEN, 'app'),
    secretLabels: ['demo'],
    allow: false,
    class: 'trust-failed',
  },
  {
    what: 'host caller not in allow_uids',
    identity: { kind: 'host', pid: PID, tgid: PID, uid: 0, gid: 0 },
    secretLabels: ['demo'],
    allow: false,
    class: 'host-not-allowed',
  },
  {
    what: 'host caller in allow_uids',
    identity: { kind: 'host', pid: PID, tgid: PID, uid: 0, gid: 0 },
    secretLabels: ['demo'],
    allowUids: [0],
    allow: true,
    class: 'allowed',
  },
  { what: 'unknown caller', identity: undefined, secretLabels: ['demo'], allow: false, class: 'caller-unknown' },
];

function explainDeps(h: Harness, identity: Identity | undefined): ExplainDeps {
  return {
    identity: {
      // The same identity the resolver gives the caller's pid (or the same "unknown" reason).
      inspectContainer: async () =>
        identity ?? { kind: 'unknown', pid: 0, tgid: 0, uid: -1, gid: -1, reason: 'no such process' },
    },
    trust: h.deps.trust,
    manifest: h.deps.manifest,
    hostAllowUids: h.deps.hostAllowUids,
    sealedFacts: h.sealedFacts,
  };
}

async function openOutcome(
  h: Harness,
  fs: ReturnType<typeof createPalFilesystem>,
  ino: number,
  uid: number,
  gid: number,
): Promise<{ allow: boolean; errno?: number; reason: string }> {
  const before = h.audit.length;
  try {
    await fs.handlers.open(ctx(PID, uid, gid), ino, O_RDONLY);
    return { allow: true, reason: h.audit.slice(before).at(-1)!.reason };
  } catch (err) {
    return { allow: false, errno: (err as FuseError).errno, reason: h.audit.slice(before).at(-1)!.reason };
  }
}

for (const row of rows) {
  test(`explain and open take the same decision: ${row.what}`, async (t) => {
    const h = harness([entry('secret', row.secretLabels)]);
    if (row.identity) h.identities.set(PID, row.identity);
    h.allowUids.push(...(row.allowUids ?? []));
    h.plaintexts.set('secret', {
      bytes: Buffer.from('s3cret'),
      ...(row.sealed?.name ? { sealedName: row.sealed.name } : {}),
      ...(row.sealed?.labels ? { sealedLabels: row.sealed.labels } : {}),
    });
    const fs = createPalFilesystem(h.deps);
    const uid = row.identity?.uid ?? 1000;
    const gid = row.identity?.gid ?? 1000;
    // The kernel knows the inode from any caller's earlier lookup (here: one holding the labels).
    h.identities.set(LOOKUP_PID, container(LOOKUP_PID, IMAGE_DEMO, 'lookup'));
    const { ino } = (await fs.handlers.lookup(ctx(LOOKUP_PID), ROOT_INO, 'secret')).attr;

    // First open (the one that may decrypt and learn the sealed facts), then every later answer.
    const first = await openOutcome(h, fs, ino, uid, gid);
    const explained = await explain(explainDeps(h, row.identity), 'app', 'secret');
    const again = await openOutcome(h, fs, ino, uid, gid);
    const listed = (await fs.handlers.readdir(ctx(PID, uid, gid), ROOT_INO)).some((e) => e.name === 'secret');

    t.is(explained.class, row.class, explained.reason);
    t.is(explained.allow, row.allow);
    for (const opened of [first, again]) {
      t.is(opened.allow, row.allow, opened.reason);
      if (!row.allow) t.is(opened.errno, EACCES);
      // Same reason (explain names the container it was asked about for an unknown one).
      t.true(explained.reason.endsWith(opened.reason), `explain: ${explained.reason} / open: ${opened.reason}`);
    }
    t.is(listed, row.allow, 'ls shows the secret exactly when explain and open allow it');
  });
}

test('explain of a sealed-label mismatch says DENY with the sealed reason once any caller has decrypted it', async (t) => {
  const h = harness([entry('secret', ['demo'])]);
  const app = container(PID, IMAGE_DEMO, 'app');
  h.identities.set(PID, app);
  h.plaintexts.set('secret', { bytes: Buffer.from('x'), sealedLabels: ['demo', 'billing'] });
  const fs = createPalFilesystem(h.deps);
  const before = await explain(explainDeps(h, app), 'app', 'secret');
  t.true(before.allow, 'before any decrypt only the manifest is known (explain never decrypts)');
  const { attr } = await fs.handlers.lookup(ctx(PID), ROOT_INO, 'secret');
  await t.throwsAsync(Promise.resolve(fs.handlers.open(ctx(PID), attr.ino, O_RDONLY)));
  const after = await explain(explainDeps(h, app), 'app', 'secret');
  t.false(after.allow);
  t.is(after.class, 'sealed-labels');
  t.regex(after.reason, /^sealed labels: app: missing label billing$/);
  t.deepEqual(after.secret?.sealedLabels, ['demo', 'billing']);
});

test('explain: a secret not in the manifest', async (t) => {
  const h = harness([]);
  const app = container(PID, IMAGE_DEMO, 'app');
  const answer = await explain(explainDeps(h, app), 'app', 'nope');
  t.false(answer.allow);
  t.is(answer.class, 'no-such-secret');
  t.is(answer.trust?.state, 'unverified');
});
