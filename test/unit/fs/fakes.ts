// Fakes of pal's own interfaces for the filesystem view's unit tests.

import type { SecureBuffer, CallerContext, FastPath } from '../../../src/native/types.js';
import type { Identity } from '../../../src/identity/types.js';
import type { ImageSubject, TrustDecision } from '../../../src/trust/types.js';
import type { AuditSink, FsDeps, ManifestView } from '../../../src/fs/deps.js';
import { AuditLineFormatter } from '../../../src/audit/line.js';
import type { ManifestEntry as SecretEntry } from '../../../src/store/index.js';
import type { OpenedSecret as OpenedSecretView } from '../../../src/crypto/index.js';
import type { AuditEvent as AuditRecord } from '../../../src/audit/index.js';
import { SealedFactsRegistry } from '../../../src/policy/index.js';
import type { AuthoriseSealed } from '../../../src/crypto/index.js';

/** Memory behind one or more FakeSecureBuffer holders (share()); zeroed when the last lets go. */
export interface FakeMemory {
  readonly bytes: Buffer;
  holders: number;
}

export class FakeSecureBuffer implements SecureBuffer {
  readonly memory: FakeMemory;
  alive = true;
  constructor(bytes: Uint8Array | FakeMemory) {
    if (bytes instanceof Uint8Array) {
      this.memory = { bytes: Buffer.from(bytes), holders: 1 };
    } else {
      this.memory = bytes;
      bytes.holders++;
    }
  }
  get length(): number {
    return this.memory.bytes.length;
  }
  write(src: Uint8Array, offset = 0): void {
    Buffer.from(src).copy(this.memory.bytes, offset);
  }
  clone(): SecureBuffer {
    if (!this.alive) throw new Error('wiped');
    return new FakeSecureBuffer(this.memory.bytes);
  }
  share(): SecureBuffer {
    if (!this.alive) throw new Error('wiped');
    return new FakeSecureBuffer(this.memory);
  }
  read(offset = 0, length = this.memory.bytes.length - offset): Buffer {
    if (!this.alive) throw new Error('wiped');
    return Buffer.from(this.memory.bytes.subarray(offset, offset + length));
  }
  wipe(): void {
    if (!this.alive) return;
    this.alive = false;
    if (--this.memory.holders === 0) this.memory.bytes.fill(0);
  }
}

/** The bytes an OpenReply serves (a SecureBuffer's or a plain copy's). */
export function contentBytes(content: SecureBuffer | Uint8Array | undefined): Buffer | undefined {
  if (content === undefined) return undefined;
  return content instanceof Uint8Array ? Buffer.from(content) : content.read();
}

export function entry(name: string, labels: string[], extra: Partial<SecretEntry> = {}): SecretEntry {
  return {
    name,
    labels,
    mode: 0o400,
    backend: 'openpgp',
    ciphertextPath: `/etc/pal/${name}.pgp`,
    version: `v1-${name}`,
    mtimeMs: 1_700_000_000_000,
    ...extra,
  };
}

export function manifestOf(entries: SecretEntry[], generation = 1): ManifestView {
  return { entries: new Map(entries.map((e) => [e.name, e])), problems: [], generation };
}

export const IMAGE_DEMO = 'sha256:' + 'a'.repeat(64);
export const IMAGE_PLAIN = 'sha256:' + 'b'.repeat(64);
export const IMAGE_BROKEN = 'sha256:' + 'c'.repeat(64);

export function container(pid: number, imageId: string, name: string): Identity {
  return {
    kind: 'container',
    pid,
    tgid: pid,
    uid: 1000,
    gid: 1000,
    containerId: name.padEnd(64, '0'),
    name,
    imageId,
    imageRef: `${name}:latest`,
    repoDigests: [],
    repoTags: [`${name}:latest`],
    imageLabels: {},
  };
}

export interface Harness {
  deps: FsDeps;
  manifest: { view: ManifestView };
  plaintexts: Map<
    string,
    {
      bytes: Buffer;
      sealedName?: string;
      sealedLabels?: string[];
      error?: { code: string; message: string };
      /** What the ciphertext says in clear before decryption (as Red October's does). */
      clearHeader?: { sealedName: string; sealedLabels: string[] };
    }
  >;
  decrypts: string[];
  audit: AuditRecord[];
  identities: Map<number, Identity>;
  allowUids: number[];
  sealedFacts: SealedFactsRegistry;
  /** Start time the fake /proc reports per pid (default: "1" for every pid with an identity). */
  startTimes: Map<number, string>;
  /** As the resolver: the start time of each process it answered, pinned (kept while it holds). */
  pinned: Map<number, string>;
  /** Start times the identity source read by number (the real resolver reads only while pinning). */
  startTimeReads: number[];
  /** The monotonic clock the caller memo reads (ms); tests move it by hand. */
  clock: { now: number };
  /** How long the fake cache holds a decrypted plaintext (cachedForMs), ms. */
  cacheTtlMs: number;
  /** The view's timers (FsDeps.schedule), run by fireTimers. */
  timers: { run: () => void; at: number; cancelled: boolean }[];
}

/** Runs the timers due by the harness clock (those a run arms meanwhile wait for the next call). */
export function fireTimers(h: Harness): number {
  const due = h.timers.filter((t) => !t.cancelled && t.at <= h.clock.now);
  h.timers = h.timers.filter((t) => !due.includes(t) && !t.cancelled);
  for (const t of due) t.run();
  return due.length;
}

/**
 * An audit sink that keeps what a real log would write, parsed back: each record as its line
 * (AuditLineFormatter, as AuditLog writes it), and the lines the warm path's addon wrote itself from
 * replayTail (native/src/audit_line.c). Tests over a real mount use it so that the addon's lines are
 * held to the same checks as JS's.
 */
export function lineAuditSink(into: AuditRecord[]): Required<AuditSink> {
  const lines = new AuditLineFormatter();
  const parse = (line: string): void => void into.push(JSON.parse(line) as AuditRecord);
  return {
    record: (e) => parse(lines.format(e, true)),
    replayTail: (e) => lines.tailAfterPid(e),
    appendLines: (text, count) => {
      const all = text.toString('utf8').split('\n');
      if (all.length !== count + 1 || all[count] !== '') throw new Error(`${count} lines expected: ${text.toString()}`);
      all.slice(0, count).forEach(parse);
    },
  };
}

export function harness(entries: SecretEntry[]): Harness {
  const h: Harness = {
    manifest: { view: manifestOf(entries) },
    plaintexts: new Map(),
    decrypts: [],
    audit: [],
    identities: new Map(),
    allowUids: [],
    sealedFacts: new SealedFactsRegistry(),
    startTimes: new Map(),
    pinned: new Map(),
    startTimeReads: [],
    clock: { now: 0 },
    cacheTtlMs: 300_000,
    timers: [],
    deps: undefined as unknown as FsDeps,
  };
  const trustByImage: Record<string, TrustDecision> = {
    [IMAGE_DEMO]: {
      labels: ['demo', 'extra'],
      state: 'unverified',
      provider: 'none',
      reason: 'image label pal.labels',
      expiresAt: Date.now() + 30_000, // as the trust service's: when it would verify again
    },
    [IMAGE_PLAIN]: { labels: [], state: 'unverified', provider: 'none', reason: 'no pal.labels' },
    [IMAGE_BROKEN]: { labels: [], state: 'error', provider: 'notary', reason: 'notary unreachable' },
  };
  // What a real cache would hold: each (name, version) decrypted without error (peek never decrypts).
  const decrypted = new Set<string>();
  const openedView = (e: SecretEntry): OpenedSecretView | undefined => {
    const p = h.plaintexts.get(e.name);
    if (!p || p.error) return undefined;
    return {
      plaintext: new FakeSecureBuffer(p.bytes),
      sealedName: p.sealedName ?? e.name,
      sealedLabels: p.sealedLabels ?? e.labels,
    };
  };
  /** The fake /proc's start time of `pid` now (undefined: no such process). */
  const procStart = (pid: number) => h.startTimes.get(pid) ?? (h.identities.has(pid) ? '1' : undefined);
  h.deps = {
    identity: {
      // As the resolver: the process is pinned while it is read, and the identity carries its start time.
      async resolve(caller) {
        const known = h.identities.get(caller.pid);
        const startTime = procStart(caller.pid);
        if (known === undefined || startTime === undefined) {
          return {
            kind: 'unknown',
            pid: caller.pid,
            tgid: caller.pid,
            uid: caller.uid,
            gid: caller.gid,
            reason: 'no such process',
          };
        }
        h.startTimeReads.push(caller.pid);
        h.pinned.set(caller.pid, startTime);
        return known.startTime !== undefined ? known : { ...known, startTime };
      },
      // As the resolver's pinnedStartTime: a pinned process's only while the pin holds (same process).
      startTime(pid) {
        const pinned = h.pinned.get(pid);
        if (pinned !== undefined && pinned === procStart(pid)) return pinned;
        h.pinned.delete(pid);
        return undefined;
      },
    },
    trust: {
      async verifiedLabels(image: ImageSubject) {
        return (
          trustByImage[image.imageId] ?? { labels: [], state: 'unsigned', provider: 'none', reason: 'unknown image' }
        );
      },
    },
    manifest: { current: () => h.manifest.view },
    secrets: {
      async get(e: SecretEntry, authorise?: AuthoriseSealed): Promise<OpenedSecretView> {
        const p = h.plaintexts.get(e.name);
        if (p?.clearHeader) authorise?.(p.clearHeader, e.version);
        h.decrypts.push(e.name);
        if (!p) throw Object.assign(new Error('no ciphertext'), { code: 'unavailable' });
        if (p.error) throw Object.assign(new Error(p.error.message), { code: p.error.code });
        decrypted.add(`${e.name}\0${e.version}`);
        return openedView(e)!;
      },
      peek(e: SecretEntry): OpenedSecretView | undefined {
        return decrypted.has(`${e.name}\0${e.version}`) ? openedView(e) : undefined;
      },
      cachedForMs: (e: SecretEntry) => (decrypted.has(`${e.name}\0${e.version}`) ? h.cacheTtlMs : undefined),
    },
    audit: { record: (e) => h.audit.push(e) },
    sealedFacts: h.sealedFacts,
    hostAllowUids: () => h.allowUids,
    allocSecure: (bytes) => new FakeSecureBuffer(bytes),
    health: () => ({ mounted: true }),
    version: '0.1.0-test',
    clock: () => h.clock.now,
    // No background re-attestation on real timers against this hand-moved clock (caller-refresh tests turn it on).
    callerRefresh: false,
    schedule: (run, ms) => {
      const timer = { run, at: h.clock.now + ms, cancelled: false };
      h.timers.push(timer);
      return () => void (timer.cancelled = true);
    },
  };
  return h;
}

export function ctx(pid: number, uid = 1000, gid = 1000): CallerContext {
  return { pid, uid, gid };
}

/**
 * A fake of the addon's warm-path cache (FastPath) that does nothing: every part a test cares about
 * is given in `parts`. A lease's content is wiped unless `parts.lease` handles it (it is handed over).
 */
export function fakeFastPath(parts: Partial<FastPath> = {}): FastPath {
  return {
    enable: () => undefined,
    setGeneration: () => undefined,
    remember: () => true,
    lease: (_generation, _caller, _ino, _id, content) => {
      content.wipe();
      return false;
    },
    retireLeases: () => undefined,
    expire: () => undefined,
    takeRetired: () => [],
    drain: () => undefined,
    stats: () => {
      throw new Error('not used');
    },
    ...parts,
  };
}
