// Reading CRI answers: every field is hostile input (a compromised or buggy runtime, or a workload
// that chose its own labels), so each is type-checked and bounded; nothing here throws except a
// RuntimeError saying what was wrong.

import { RuntimeError, type PodRef } from '../runtime.js';

/** The verbose "info" JSON holds the OCI runtime spec: tens of KiB. More is not an answer. */
const MAX_INFO_BYTES = 1024 * 1024;
const MAX_LABELS = 512;
const MAX_TEXT = 4096;

const POD_UID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Kubernetes object names: DNS-1123 subdomain (pod) and label (namespace, container). */
const POD_NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function text(value: unknown): string {
  return typeof value === 'string' && value.length <= MAX_TEXT ? value : '';
}

/** A nested message, or undefined when absent (proto-loader decodes an unset message as null). */
export function field(message: Record<string, unknown> | undefined, name: string): Record<string, unknown> | undefined {
  const value = message?.[name];
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** A map<string,string>, bounded; a null-prototype record so `__proto__` is just a key. */
export function stringMap(value: unknown, maxValue = MAX_TEXT): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  if (typeof value !== 'object' || value === null) return out;
  let count = 0;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'string' || k.length > 256 || v.length > maxValue) continue;
    if (++count > MAX_LABELS) throw new RuntimeError('invalid', `CRI answer has more than ${MAX_LABELS} labels`);
    out[k] = v;
  }
  return out;
}

/** The verbose "info" entry of a ContainerStatus/ImageStatus answer, parsed; absent → undefined. */
export function verboseInfo(answer: Record<string, unknown>): unknown {
  const info = answer['info'];
  if (typeof info !== 'object' || info === null) return undefined;
  const json = (info as Record<string, unknown>)['info'];
  return parseInfoJson(typeof json === 'string' ? json : undefined);
}

/** The verbose info JSON, or undefined when absent; malformed or oversized is an error. */
export function parseInfoJson(json: string | undefined): unknown {
  if (json === undefined || json === '') return undefined;
  if (json.length > MAX_INFO_BYTES)
    throw new RuntimeError('invalid', `CRI verbose info is larger than ${MAX_INFO_BYTES} bytes`);
  try {
    return JSON.parse(json) as unknown;
  } catch {
    throw new RuntimeError('invalid', 'CRI verbose info is not JSON');
  }
}

/** The OCI image config's labels from ImageStatus verbose info (containerd: imageSpec.config.Labels). */
export function imageConfigLabels(info: unknown): Record<string, string> {
  const spec = field(info as Record<string, unknown> | undefined, 'imageSpec');
  return stringMap(field(field(spec, 'config'), 'Labels'));
}

/**
 * The pod a container belongs to, from its sandbox's metadata (the runtime's own record of what
 * kubelet asked for). The container's io.kubernetes.* labels must agree when present.
 */
export function podOf(
  sandbox: Record<string, unknown>,
  containerMetadata: Record<string, unknown> | undefined,
  labels: Readonly<Record<string, string>>,
  id: string,
): PodRef {
  const meta = field(sandbox, 'metadata');
  const pod: PodRef = {
    namespace: text(meta?.['namespace']),
    name: text(meta?.['name']),
    uid: text(meta?.['uid']),
    container: text(containerMetadata?.['name']),
  };
  const short = id.slice(0, 12);
  if (!DNS_LABEL.test(pod.namespace) || !POD_NAME.test(pod.name) || !DNS_LABEL.test(pod.container)) {
    throw new RuntimeError('invalid', `container ${short}: its pod is not named namespace/pod/container`);
  }
  if (!POD_UID.test(pod.uid))
    throw new RuntimeError('invalid', `container ${short}: pod uid ${JSON.stringify(pod.uid)} is not a uuid`);
  const expect: Array<[string, string]> = [
    ['io.kubernetes.pod.namespace', pod.namespace],
    ['io.kubernetes.pod.name', pod.name],
    ['io.kubernetes.pod.uid', pod.uid],
    ['io.kubernetes.container.name', pod.container],
  ];
  for (const [key, value] of expect) {
    const said = labels[key];
    if (said !== undefined && said !== value) {
      throw new RuntimeError(
        'invalid',
        `container ${short}: label ${key}=${JSON.stringify(said)} disagrees with its pod sandbox`,
      );
    }
  }
  return Object.freeze(pod);
}
