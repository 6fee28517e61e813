/* eslint-disable @typescript-eslint/no-unsafe-call -- walks untyped Kubernetes YAML documents */
// docker/kubernetes/: the DaemonSet and example pod parse, hold what a node needs (SPEC, docs/
// operations.md "Running on Kubernetes"), and the pald.yaml they carry is a valid pald config.
// (No Kubernetes schema checker is packaged here: YAML plus the required fields.)

import test from 'ava';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../../src/config/index.js';

const DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../../docker/kubernetes');
type Obj = Record<string, any>; // parsed YAML, checked field by field below

function docs(file: string): Obj[] {
  const parsed = parseAllDocuments(readFileSync(join(DIR, file), 'utf8'));
  if (!Array.isArray(parsed)) throw new Error(`${file}: no documents`);
  for (const d of parsed) if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`);
  return parsed.map((d) => d.toJS() as Obj);
}

function ofKind(all: Obj[], kind: string, name?: string): Obj {
  const found = all.find((d) => d.kind === kind && (name === undefined || d.metadata?.name === name));
  if (found === undefined) throw new Error(`no ${kind} ${name ?? ''}`);
  return found;
}

test('the DaemonSet: host pids, FUSE, the CRI socket, /run/pal shared both ways', (t) => {
  const all = docs('pald-daemonset.yaml');
  for (const d of all) {
    t.truthy(d.apiVersion, 'apiVersion');
    t.truthy(d.metadata?.name, 'metadata.name');
  }
  const ds = ofKind(all, 'DaemonSet');
  t.is(ds.apiVersion, 'apps/v1');
  t.deepEqual(ds.spec.selector.matchLabels, ds.spec.template.metadata.labels);
  const pod = ds.spec.template.spec;
  t.true(pod.hostPID);
  const pald = pod.containers.find((c: Obj) => c.name === 'pald');
  t.true(pald.securityContext.privileged);
  const volumes = new Map<string, Obj>(pod.volumes.map((v: Obj) => [v.name, v]));
  const mountAt = (path: string): Obj => {
    const m = pald.volumeMounts.find((vm: Obj) => vm.mountPath === path);
    t.truthy(m, `a mount at ${path}`);
    t.true(volumes.has(m.name), `volume ${m.name} exists`);
    return m;
  };
  t.is(mountAt('/run/pal').mountPropagation, 'Bidirectional');
  t.is(volumes.get(mountAt('/run/pal').name)!.hostPath.path, '/run/pal');
  t.is(volumes.get(mountAt('/dev/fuse').name)!.hostPath.type, 'CharDevice');

  const config = parseConfig(
    '/etc/pal/config/pald.yaml',
    ofKind(all, 'ConfigMap', 'pald-config').data['pald.yaml'],
    {},
  );
  t.is(config.docker.host, '');
  t.is(config.mountpoint, '/run/pal');
  const socket = config.cri!.address.slice('unix://'.length);
  t.is(volumes.get(mountAt(socket).name)!.hostPath.type, 'Socket');
  t.true(config.manifest.startsWith(mountAt('/etc/pal/manifest').mountPath));

  const manifest = ofKind(all, 'ConfigMap', 'pal-manifest');
  t.regex(manifest.data['secrets.yaml'], /namespaces: \[payments\]/);
});

test('the example pod: /run/pal read-only, following the node (HostToContainer)', (t) => {
  const pod = ofKind(docs('example-pod.yaml'), 'Pod');
  const mount = pod.spec.containers[0].volumeMounts.find((m: Obj) => m.mountPath === '/run/pal');
  t.true(mount.readOnly);
  t.is(mount.mountPropagation, 'HostToContainer');
  t.is(pod.spec.volumes.find((v: Obj) => v.name === mount.name).hostPath.path, '/run/pal');
});
