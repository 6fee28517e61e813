// A Kubernetes node without Docker: a private containerd with its CRI plugin, pods made over CRI
// as kubelet makes them (hostNetwork, cgroup parent /kubepods/besteffort/pod<uid>, pald's
// mountpoint as a HostToContainer hostPath at /run/pal), and pald configured with cri.address only.

import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { createIdentityResolver, type ResolverWithDiagnostics } from '../../src/identity/index.js';
import { startContainerd, type TestContainerd, type TestPod } from '../../scripts/components/containerd.js';
import { startPald, type TestPald } from '../helpers/pald.js';
import { waitFor } from '../helpers/wait.js';

const BILLING_IMAGE = 'docker.io/paltest/billing:1';
const PLAIN_IMAGE = 'docker.io/paltest/plain:1';
const SECRET = 'payments-key-plaintext-7f3a';
const NS_SECRET = 'payments-only-plaintext-91c2';

let containerd: TestContainerd | undefined;
let pald: TestPald | undefined;

test.before(async () => {
  containerd = await startContainerd();
  await containerd.importImage(BILLING_IMAGE, { 'pal.labels': 'billing' });
  await containerd.importImage(PLAIN_IMAGE);
  pald = await startPald({ dockerHost: '', criAddress: containerd.address });
  await pald.seal('payments-key', ['billing'], SECRET);
  await pald.seal('payments-only', ['billing'], NS_SECRET);
  // namespaces: is a manifest-only restriction (pal seal does not write it).
  const manifest = parseDocument(await readFile(pald.manifest, 'utf8'));
  manifest.setIn(['secrets', 'payments-only', 'namespaces'], ['payments']);
  await writeFile(pald.manifest, manifest.toString(), { mode: 0o644 });
  await waitFor('pald to reload the manifest with namespaces', async () => {
    const secrets = JSON.parse((await pald!.pal('secrets', '--json')).stdout) as {
      name: string;
      namespaces?: string[];
    }[];
    return secrets.some((s) => s.name === 'payments-only' && s.namespaces?.[0] === 'payments');
  });
});

test.after.always(async () => {
  await containerd?.cleanup();
  await pald?.cleanup();
});

function pod(namespace: string, name: string, image: string, sandboxUid?: string): Promise<TestPod> {
  return containerd!.runPod({
    namespace,
    name,
    image,
    palMount: pald!.mountpoint,
    ...(sandboxUid !== undefined ? { sandboxUid } : {}),
  });
}

test.serial('a pod whose image holds the labels reads its secret; whoami shows pod and namespace', async (t) => {
  const api = await pod('payments', 'api', BILLING_IMAGE);
  const read = await containerd!.exec(api, ['cat', '/run/pal/payments-key']);
  t.is(read.code, 0, read.stderr);
  t.is(read.stdout, SECRET);
  t.is((await containerd!.exec(api, ['cat', '/run/pal/payments-only'])).stdout, NS_SECRET);

  const whoami = JSON.parse((await containerd!.exec(api, ['cat', '/run/pal/.pal/whoami.json'])).stdout) as {
    kind: string;
    container: { id: string; runtime: string };
    pod: Record<string, string>;
    labels: string[];
  };
  t.is(whoami.kind, 'container');
  t.is(whoami.container.id, api.containerId);
  t.is(whoami.container.runtime, 'containerd');
  t.deepEqual(whoami.pod, { namespace: 'payments', name: 'api', uid: api.uid, container: 'app' });
  t.deepEqual(whoami.labels, ['billing']);

  const containers = await pald!.pal('containers');
  t.regex(containers.stdout, /NAMESPACE\/POD/);
  t.regex(containers.stdout, new RegExp(`${api.containerId.slice(0, 12)}\\s+app\\s+payments/api\\s`));
  const explained = await pald!.pal('explain', '--json', 'payments/api', 'payments-only');
  t.is(explained.code, 0, explained.stdout + explained.stderr);
  t.like(JSON.parse(explained.stdout), { allow: true, container: { id: api.containerId, pod: { name: 'api' } } });

  const audit = await pald!.pal('audit', '--json', '-n', '1000');
  const events = JSON.parse(audit.stdout) as { decision: string; secret?: string; pod?: string }[];
  t.true(events.some((e) => e.decision === 'allow' && e.secret === 'payments-key' && e.pod === 'payments/api/app'));
});

test.serial('a pod without the label, or in another namespace for a namespaced secret, is denied', async (t) => {
  const plain = await pod('payments', 'plain', PLAIN_IMAGE);
  const denied = await containerd!.exec(plain, ['cat', '/run/pal/payments-key']);
  t.not(denied.code, 0);
  t.false(denied.stdout.includes(SECRET));

  const other = await pod('shop', 'cart', BILLING_IMAGE);
  t.is((await containerd!.exec(other, ['cat', '/run/pal/payments-key'])).stdout, SECRET);
  const wrongNs = await containerd!.exec(other, ['cat', '/run/pal/payments-only']);
  t.not(wrongNs.code, 0);
  t.false(wrongNs.stdout.includes(NS_SECRET));
  const explained = JSON.parse((await pald!.pal('explain', '--json', 'shop/cart/app', 'payments-only')).stdout) as {
    allow: boolean;
    reason: string;
  };
  t.false(explained.allow);
  t.regex(explained.reason, /pod namespace shop is not one of payments/);
});

test.serial('a pod whose sandbox names another uid than its cgroup path is unknown', async (t) => {
  // The runtime's record says one pod, the kernel's cgroup path another: neither is believed.
  const forged = await pod('payments', 'forged', BILLING_IMAGE, '00000000-0000-4000-8000-000000000001');
  const read = await containerd!.exec(forged, ['cat', '/run/pal/payments-key']);
  t.not(read.code, 0);
  t.false(read.stdout.includes(SECRET));
  const whoami = await containerd!.exec(forged, ['cat', '/run/pal/.pal/whoami.json']);
  const seen = JSON.parse(whoami.stdout) as { kind: string; reason: string };
  t.is(seen.kind, 'unknown');
  t.regex(seen.reason, /its runtime says uid 00000000-0000-4000-8000-000000000001, its cgroup says [0-9a-f-]{36}/);
});

test.serial('containerd stopped: an unseen pod fails closed with a reason; restarted: it resolves', async (t) => {
  const logs: string[] = [];
  const resolver: ResolverWithDiagnostics = createIdentityResolver({
    dockerHost: '',
    criAddress: containerd!.address,
    log: (m) => logs.push(m),
  });
  try {
    await waitFor('the resolver to list containers', async () => resolver.status().reachable);
    const seen = await pod('payments', 'seen', BILLING_IMAGE);
    const unseen = await pod('payments', 'unseen', BILLING_IMAGE);
    t.like(await resolver.resolve({ pid: seen.pid, uid: 0, gid: 0 }), {
      kind: 'container',
      pod: { namespace: 'payments', name: 'seen' },
    });

    await containerd!.stop();
    await waitFor('the resolver to notice containerd is gone', async () => !resolver.status().reachable);
    const denied = await resolver.resolve({ pid: unseen.pid, uid: 0, gid: 0 });
    t.is(denied.kind, 'unknown');
    t.regex(denied.reason ?? '', /CRI runtime unreachable at unix:\/\//);
    // Verified before the outage and its init still the same process: still served.
    t.is((await resolver.resolve({ pid: seen.pid, uid: 0, gid: 0 })).kind, 'container');

    await containerd!.start();
    await waitFor('the resolver to reconnect', async () => resolver.status().reachable, { timeoutMs: 30_000 });
    t.like(await resolver.resolve({ pid: unseen.pid, uid: 0, gid: 0 }), {
      kind: 'container',
      containerId: unseen.containerId,
      pod: { name: 'unseen', uid: unseen.uid },
    });

    // A deleted pod: the poll drops it, and its old pid is not attributed to it any more.
    await containerd!.removePod(unseen);
    await waitFor('the resolver to drop the deleted pod', async () =>
      resolver.containers().every((c) => c.containerId !== unseen.containerId),
    );
    t.not((await resolver.resolve({ pid: unseen.pid, uid: 0, gid: 0 })).containerId, unseen.containerId);
    t.true(logs.some((l) => l.includes('unreachable')));
  } finally {
    await resolver.close();
  }
});
