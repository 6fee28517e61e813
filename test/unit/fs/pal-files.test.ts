import test from 'ava';
import { createPalFilesystem, ROOT_INO, PAL_DIR_INO } from '../../../src/fs/index.js';
import { renderPalFile } from '../../../src/fs/inspect.js';
import type { DaemonHealth } from '../../../src/fs/deps.js';
import { harness, entry, container, ctx, contentBytes, IMAGE_DEMO, IMAGE_BROKEN } from './fakes.js';

const O_RDONLY = 0;
const DEMO_PID = 201;
const BROKEN_PID = 202;

async function readPal(fs: ReturnType<typeof createPalFilesystem>, pid: number, file: string): Promise<string> {
  const { attr } = await fs.handlers.lookup(ctx(pid), PAL_DIR_INO, file);
  return contentBytes((await fs.handlers.open(ctx(pid), attr.ino, O_RDONLY)).content)!.toString();
}

test('.pal/status shows the caller its own trust state and pald health, nothing about other images', async (t) => {
  const h = harness([entry('db-password', ['demo'])]);
  h.identities.set(DEMO_PID, container(DEMO_PID, IMAGE_DEMO, 'app'));
  h.identities.set(BROKEN_PID, container(BROKEN_PID, IMAGE_BROKEN, 'registry-example-other-repo'));
  const fs = createPalFilesystem(h.deps);
  // Another container's image fails trust first…
  const broken = JSON.parse(await readPal(fs, BROKEN_PID, 'status')) as Record<string, any>;
  t.like(broken.caller, { kind: 'container', trust: { state: 'error', reason: 'notary unreachable' } });
  t.regex(broken.caller.failure, /trust failed/);
  // …and the next caller learns nothing of it.
  const text = await readPal(fs, DEMO_PID, 'status');
  const status = JSON.parse(text) as Record<string, any>;
  t.deepEqual(Object.keys(status).sort(), ['caller', 'mounted', 'pald', 'version']);
  t.like(status, { pald: 'running', version: '0.1.0-test', mounted: true });
  t.deepEqual(status.caller, {
    kind: 'container',
    trust: { state: 'unverified', provider: 'none', reason: 'image label pal.labels' },
  });
  t.false(/unreachable|other-repo|notary/.test(text));
});

test('.pal/status passes through nothing the daemon hands it beyond the named health fields', (t) => {
  // What a careless wiring might hand over: the admin status with trust's last failure and the manifest.
  const leaky = {
    mounted: true,
    trust: { reason: 'registry.example/other/repo: signature expired' },
    manifest: { entries: 12 },
  } as DaemonHealth;
  const caller = { ctx: ctx(1), identity: { kind: 'host' as const, pid: 1, tgid: 1, uid: 0, gid: 0 } };
  const text = renderPalFile('status', { caller, visible: [], version: '1', health: leaky });
  t.false(text.includes('other/repo'));
  t.false(text.includes('entries'));
  t.deepEqual(JSON.parse(text), {
    pald: 'running',
    version: '1',
    mounted: true,
    caller: { kind: 'host', trust: null },
  });
});

test('statfs does not tell how many secrets exist', async (t) => {
  const few = createPalFilesystem(harness([entry('a', ['demo'])]).deps);
  const many = createPalFilesystem(harness(Array.from({ length: 40 }, (_, i) => entry(`s${i}`, ['demo']))).deps);
  const a = await few.handlers.statfs!(ctx(1), ROOT_INO);
  const b = await many.handlers.statfs!(ctx(1), ROOT_INO);
  t.deepEqual(a, b);
});

test('inode numbers a caller sees do not reveal how many other secrets were looked up before', async (t) => {
  const h = harness([
    ...Array.from({ length: 50 }, (_, i) => entry(`other-${i}`, ['billing'])),
    entry('db-password', ['demo']),
  ]);
  h.identities.set(DEMO_PID, container(DEMO_PID, IMAGE_DEMO, 'app'));
  h.allowUids.push(0);
  h.identities.set(1, { kind: 'host', pid: 1, tgid: 1, uid: 0, gid: 0 });
  const fs = createPalFilesystem(h.deps);
  const mine = (await fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'db-password')).attr.ino;
  // Another caller walks the other 50 secrets; then a fresh name of ours must not sit next to them.
  const seen = new Set<number>();
  for (let i = 0; i < 50; i++) seen.add((await fs.handlers.lookup(ctx(1, 0, 0), ROOT_INO, `other-${i}`)).attr.ino);
  for (const ino of seen) t.true(Math.abs(ino - mine) > 1000, 'numbers are spread, not counted');
  await t.throwsAsync(
    Promise.resolve(fs.handlers.lookup(ctx(DEMO_PID), ROOT_INO, 'other-0')),
    { message: /missing label billing/ },
    'and they stay invisible to it',
  );
});
