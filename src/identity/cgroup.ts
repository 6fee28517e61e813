// /proc/<pid>/cgroup → container id, for every common runtime's path shape.
//
// Only this file is trusted for the answer: it is written by the kernel, while mountinfo and
// anything else under the process's control can be forged by the workload. The input is still
// treated as hostile: anything unparsable or ambiguous is 'unknown' (denied), never a guess.

import type { CgroupVerdict, ContainerRuntimeHint } from './types.js';

/** Container ids are exactly 64 lower-case hex characters in every runtime we recognise. */
const ID = '[0-9a-f]{64}';

/** Segment shapes that name a container, checked in order; the first match wins. */
const SEGMENT_SHAPES: ReadonlyArray<{ readonly pattern: RegExp; readonly runtime: ContainerRuntimeHint }> = [
  // systemd cgroup driver: /system.slice/docker-<id>.scope, kubepods-…-pod<uid>.slice/docker-<id>.scope
  { pattern: new RegExp(`^docker-(${ID})\\.scope$`), runtime: 'docker' },
  // containerd CRI with the systemd driver
  { pattern: new RegExp(`^cri-containerd-(${ID})\\.scope$`), runtime: 'containerd' },
  { pattern: new RegExp(`^crio-(${ID})\\.scope$`), runtime: 'cri-o' },
  { pattern: new RegExp(`^libpod-(${ID})\\.scope$`), runtime: 'podman' },
  // cgroupfs drivers of podman (/libpod_parent/libpod-<id>) and CRI-O (/kubepods/…/pod<uid>/crio-<id>)
  { pattern: new RegExp(`^libpod-(${ID})$`), runtime: 'podman' },
  { pattern: new RegExp(`^crio-(${ID})$`), runtime: 'cri-o' },
  // kubelet's systemd driver as containerd/kind nest it: kubepods-…-pod<uid>.slice:cri-containerd:<id>
  { pattern: new RegExp(`^[^:]*\\.slice:cri-containerd:(${ID})$`), runtime: 'containerd' },
  { pattern: new RegExp(`^[^:]*\\.slice:crio:(${ID})$`), runtime: 'cri-o' },
  { pattern: new RegExp(`^[^:]*\\.slice:docker:(${ID})$`), runtime: 'docker' },
];

/**
 * Runtime monitors live next to, not inside, the container (podman's and CRI-O's conmon).
 * They are runtime plumbing: not the workload, and not an ordinary host process either.
 */
const MONITOR_SHAPE = new RegExp(`^(?:libpod|crio)-conmon-${ID}(?:\\.scope)?$`);

/**
 * Containers of managers we cannot ask about (systemd-nspawn/machined, LXC): not a host
 * process, and not attributable either.
 */
const FOREIGN_CONTAINER_SHAPE = /^(?:machine-.+\.scope|lxc\.payload\..+|lxc\.monitor\..+)$/;

/** A scope unit of a runtime whose id is malformed: a near-miss, never silently ignored. */
const RUNTIME_SCOPE_SHAPE = /^(?:docker|cri-containerd|crio|libpod)-(?:.*\.scope|[0-9a-fA-F]+)$/;

/** Any run of 64 hex characters, either case: an id-like string we must account for. */
const ID_LIKE = /[0-9a-fA-F]{64}/;

/** Id-ish under a runtime parent: hex of a wrong length, or a long token with stray characters. */
const ID_ISH = /^(?:[0-9a-fA-F]{12,}|[0-9a-zA-Z]{32,})$/;

const BARE_ID = new RegExp(`^${ID}$`);
const LINE = /^(\d+):([^:\n]*):(.*)$/;

/** Real files are a few hundred bytes; anything huge is not a cgroup file. */
const MAX_TEXT = 64 * 1024;
const MAX_LINES = 256;

type SegmentFinding =
  | { readonly kind: 'id'; readonly containerId: string; readonly runtime: ContainerRuntimeHint }
  | { readonly kind: 'suspicious'; readonly reason: string }
  | { readonly kind: 'none' };

/** Parse the text of /proc/<pid>/cgroup. Pure; never throws. */
export function parseCgroupFile(text: string): CgroupVerdict {
  if (typeof text !== 'string') return unknown('cgroup file is not text');
  // Bytes, not characters, and before anything else looks at the text.
  if (text.length > MAX_TEXT || Buffer.byteLength(text) > MAX_TEXT)
    return unknown(`cgroup file too large (${Buffer.byteLength(text)} bytes)`);
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) return unknown('cgroup file is empty');
  if (lines.length > MAX_LINES) return unknown(`cgroup file has too many lines (${lines.length})`);

  let found: { containerId: string; runtime: ContainerRuntimeHint } | undefined;
  const paths = new Set<string>();
  for (const [index, line] of lines.entries()) {
    const match = LINE.exec(line);
    const path = match?.[3];
    if (match === null || path === undefined) {
      return unknown(`cgroup line ${index + 1} is not "id:controllers:path": ${quote(line)}`);
    }
    if (!path.startsWith('/')) return unknown(`cgroup line ${index + 1} has a relative path: ${quote(line)}`);

    const lineResult = containerInPath(path);
    if (lineResult.kind === 'suspicious') return unknown(`cgroup line ${index + 1}: ${lineResult.reason}`);
    if (lineResult.kind === 'none') continue;
    if (found !== undefined && found.containerId !== lineResult.containerId) {
      return unknown(
        `cgroup lines name different containers (${short(found.containerId)} and ${short(lineResult.containerId)})`,
      );
    }
    // Several lines may agree on the id with different hints (v1 cgroupfs + v2 systemd): keep the most specific.
    if (found === undefined || found.runtime === 'unknown') found = lineResult;
    paths.add(lineResult.path);
  }
  if (found === undefined) return { kind: 'host' };
  return { kind: 'container', containerId: found.containerId, runtime: found.runtime, paths: [...paths] };
}

/**
 * Walk a cgroup path from its end: the innermost segment naming a container wins, so that
 * Docker-in-Docker and kind (/docker/<outer>/kubepods/…/<inner>) attribute to the inner one.
 * Linear in the path: what a segment needs to know of its ancestors (its parent, whether a
 * kubepods tree is above it) is computed once, front to back, not re-sliced per segment.
 */
function containerInPath(
  path: string,
):
  | { kind: 'id'; containerId: string; runtime: ContainerRuntimeHint; path: string }
  | { kind: 'suspicious'; reason: string }
  | { kind: 'none' } {
  const segments = path.split('/');
  // underKubepods[i]: some segment in 1..i-1 is a kubepods tree.
  // (Grown by push: `new Array(n)` of a large n is a slow dictionary-mode array in V8.)
  const underKubepods: boolean[] = [false, false];
  for (let i = 2; i < segments.length; i++) underKubepods.push(underKubepods[i - 1]! || isKubepods(segments[i - 1]!));
  for (let i = segments.length - 1; i >= 1; i--) {
    const segment = segments[i] ?? '';
    if (segment === '' || segment === '.' || segment === '..') continue;
    const ancestors: Ancestors = { parent: i >= 2 ? segments[i - 1] : undefined, underKubepods: underKubepods[i]! };
    const finding = classifySegment(segment, ancestors);
    if (finding.kind === 'none') continue;
    if (finding.kind === 'suspicious') return finding;
    const cut = segments.slice(0, i + 1).join('/');
    const runtime = finding.runtime === 'unknown' ? hintFromAncestors(ancestors) : finding.runtime;
    return { kind: 'id', containerId: finding.containerId, runtime, path: cut };
  }
  return { kind: 'none' };
}

/** What classification needs of the segments above one segment (the root's empty one excluded). */
interface Ancestors {
  readonly parent: string | undefined;
  readonly underKubepods: boolean;
}

function isKubepods(segment: string): boolean {
  return segment === 'kubepods' || segment.startsWith('kubepods.') || segment.startsWith('kubepods-');
}

function classifySegment(segment: string, ancestors: Ancestors): SegmentFinding {
  if (BARE_ID.test(segment)) return { kind: 'id', containerId: segment, runtime: 'unknown' };
  for (const shape of SEGMENT_SHAPES) {
    const id = shape.pattern.exec(segment)?.[1];
    if (id !== undefined) return { kind: 'id', containerId: id, runtime: shape.runtime };
  }
  if (MONITOR_SHAPE.test(segment)) {
    return { kind: 'suspicious', reason: `runtime monitor cgroup ${quote(segment)} is not a container workload` };
  }
  if (FOREIGN_CONTAINER_SHAPE.test(segment) || ancestors.parent === 'lxc') {
    return { kind: 'suspicious', reason: `segment ${quote(segment)} is a container of a manager pal cannot query` };
  }
  if (RUNTIME_SCOPE_SHAPE.test(segment)) {
    return { kind: 'suspicious', reason: `runtime scope ${quote(segment)} has no valid 64-hex container id` };
  }
  if (ID_LIKE.test(segment)) {
    return { kind: 'suspicious', reason: `segment ${quote(segment)} holds an id-like string in an unrecognised shape` };
  }
  if (ID_ISH.test(segment) && underRuntimeParent(ancestors)) {
    return {
      kind: 'suspicious',
      reason: `segment ${quote(segment)} looks like a container id of the wrong length or case`,
    };
  }
  return { kind: 'none' };
}

/** Directly under /docker or anywhere under a kubepods tree: places where only container ids belong. */
function underRuntimeParent(ancestors: Ancestors): boolean {
  return ancestors.parent === 'docker' || ancestors.underKubepods;
}

function hintFromAncestors(ancestors: Ancestors): ContainerRuntimeHint {
  if (ancestors.underKubepods) return 'kubernetes';
  if (ancestors.parent === 'docker') return 'docker';
  return 'unknown';
}

function unknown(reason: string): CgroupVerdict {
  return { kind: 'unknown', reason };
}

function short(id: string): string {
  return id.slice(0, 12);
}

/** Quote untrusted text for a reason string: JSON escaping, bounded length. */
function quote(text: string): string {
  const bounded = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  return JSON.stringify(bounded);
}

/**
 * Every process of a container has the same cgroup file: parse each distinct text once. (The
 * parser is pure, so a memo of its results is exact.) Bounded: emptied when full.
 */
export class CgroupVerdictMemo {
  private readonly verdicts = new Map<string, CgroupVerdict>();

  constructor(private readonly maxTexts = 1024) {}

  verdict(text: string): CgroupVerdict {
    let verdict = this.verdicts.get(text);
    if (verdict === undefined) {
      verdict = parseCgroupFile(text);
      if (this.verdicts.size >= this.maxTexts) this.verdicts.clear();
      this.verdicts.set(text, verdict);
    }
    return verdict;
  }
}
