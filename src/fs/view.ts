// The per-caller filesystem (SPEC §4). Every request is answered for the caller the kernel names:
// a secret exists for a caller only if policy lets that caller open it; nothing is cached in the
// kernel (timeouts 0) so one caller's view can never be served to another.

import type {
  CallerContext,
  DirEntry,
  EntryReply,
  AttrReply,
  FileAttr,
  FuseHandlers,
  OpenReply,
  StatfsReply,
  SecureBuffer,
} from '../native/types.js';
import { attestCaller, decide as policyDecide, isFailClosed, type Caller, type Decision } from '../policy/index.js';
import type { AuditRecord, FsDeps, ManifestView, SecretEntry } from './deps.js';
import { FsError, ENOENT, EACCES, EIO, EROFS, ENOTDIR, EISDIR, EBADF } from './errors.js';
import {
  ROOT_INO,
  PAL_DIR_INO,
  PAL_DIR_NAME,
  PAL_FILES,
  SecretInodes,
  palFileIno,
  palFileName,
  isPalFileName,
  type PalFileName,
} from './inodes.js';
import { dirAttr, fileAttr, ENTRY_TIMEOUT_S, ATTR_TIMEOUT_S } from './attrs.js';
import { renderPalFile, type VisibleSecret } from './inspect.js';
import { CallerMemo } from './caller-memo.js';
import { HandleLedger, DEFAULT_HANDLE_LIMITS, handleOwner } from './handle-ledger.js';

const PAL_FILE_MODE = 0o444;
// Linux open(2) flag bits (node's fs.constants lacks O_ACCMODE).
const O_ACCMODE = 0o3;
const O_RDONLY = 0;
const O_TRUNC = 0o1000;

export interface KernelNotifier {
  invalidateEntry(parent: number, name: string): void;
  invalidateInode(ino: number): void;
}

export interface PalFilesystem {
  readonly handlers: FuseHandlers;
  /** Once mounted: where to send cache invalidations. */
  attachKernel(notifier: KernelNotifier | undefined): void;
  /** Call on every manifest change: drops kernel caches and learnt facts of changed secrets. */
  manifestChanged(next: ManifestView, previous: ManifestView): void;
  openHandles(): number;
  /** Forget recently evaluated callers (a container died or changed, trust was reset). */
  forgetCallers(): void;
}

function elapsedUs(startNs: bigint): number {
  return Number((process.hrtime.bigint() - startNs) / 1000n);
}

/** The reason class of a caller pald could not attribute or trust (as policy's decide() names it). */
function failureClass(caller: Caller): string {
  return caller.identity.kind === 'unknown' ? 'caller-unknown' : 'trust-failed';
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sameEntry(a: SecretEntry, b: SecretEntry): boolean {
  return (
    a.version === b.version &&
    a.mode === b.mode &&
    a.mtimeMs === b.mtimeMs &&
    a.backend === b.backend &&
    a.ciphertextPath === b.ciphertextPath &&
    a.size === b.size &&
    a.labels.length === b.labels.length &&
    a.labels.every((l, i) => l === b.labels[i])
  );
}

export function createPalFilesystem(deps: FsDeps): PalFilesystem {
  const inodes = new SecretInodes();
  const sealed = deps.sealedFacts;
  const handles = new Map<number, { ino: number; name: string }>();
  const openPerSecret = new Map<number, number>(); // ino → open handles
  const ledger = deps.handles ?? new HandleLedger(() => DEFAULT_HANDLE_LIMITS);
  const startedAt = (deps.now ?? Date.now)();
  let nextFh = 1;
  let kernel: KernelNotifier | undefined;
  const metrics = deps.metrics;

  // A caller attested a moment ago is reused for its next requests (see caller-memo.ts).
  const callers = new CallerMemo({
    attest: metrics
      ? async (ctx) => {
          const startNs = process.hrtime.bigint();
          const caller = await attestCaller(ctx, deps.identity, deps.trust);
          metrics.attribution(elapsedUs(startNs));
          return caller;
        }
      : (ctx) => attestCaller(ctx, deps.identity, deps.trust),
    startTime: (pid) => deps.identity.startTime(pid),
    clock: deps.clock ?? (() => performance.now()),
  });
  const evaluate = (ctx: CallerContext): Promise<Caller> => callers.evaluate(ctx);

  /** Policy's decision, with what pald has learnt about the entry's sealed payload (if anything). */
  function decide(caller: Caller, entry: SecretEntry): Decision {
    return policyDecide(caller, entry, { hostAllowUids: deps.hostAllowUids(), sealed: sealed.factsFor(entry) });
  }

  /** Records one decision: the audit line, and the /metrics counters by reason class (never the free-text reason). */
  function audit(
    caller: Caller,
    op: string,
    secret: string | undefined,
    decision: AuditRecord['decision'],
    reason: string,
    reasonClass: string,
    startNs: bigint,
  ): void {
    const { identity } = caller;
    const latencyUs = elapsedUs(startNs);
    metrics?.decision(op, decision, reasonClass, latencyUs);
    deps.audit.record({
      time: new Date().toISOString(),
      pid: caller.ctx.pid,
      uid: caller.ctx.uid,
      gid: caller.ctx.gid,
      ...(identity.containerId
        ? {
            container: identity.name ? `${identity.name} (${identity.containerId.slice(0, 12)})` : identity.containerId,
          }
        : {}),
      ...(identity.pod ? { pod: `${identity.pod.namespace}/${identity.pod.name}/${identity.pod.container}` } : {}),
      ...(identity.imageRef || identity.imageId ? { image: identity.imageRef ?? identity.imageId } : {}),
      ...(caller.trust ? { labels: caller.trust.labels } : {}),
      ...(secret !== undefined ? { secret } : {}),
      op,
      decision,
      reason,
      latency_us: latencyUs,
    });
  }

  function secretSize(entry: SecretEntry): number {
    return sealed.factsFor(entry)?.size ?? entry.size ?? 0;
  }

  function secretAttr(caller: Caller, entry: SecretEntry): FileAttr {
    return fileAttr(
      inodes.inoFor(entry.name),
      entry.mode,
      caller.ctx.uid,
      caller.ctx.gid,
      secretSize(entry),
      entry.mtimeMs,
    );
  }

  function visibleSecrets(caller: Caller): SecretEntry[] {
    if (caller.failure) return [];
    return [...deps.manifest.current().entries.values()].filter((e) => decide(caller, e).allow);
  }

  function renderFor(caller: Caller, file: PalFileName): Buffer {
    const visible: VisibleSecret[] = visibleSecrets(caller).map((e) => ({
      name: e.name,
      labels: e.labels,
      mode: e.mode,
      size: secretSize(e),
      version: e.version,
      mtimeMs: e.mtimeMs,
    }));
    return Buffer.from(renderPalFile(file, { caller, visible, version: deps.version, health: deps.health() }), 'utf8');
  }

  function palFileAttr(caller: Caller, file: PalFileName): FileAttr {
    const size = renderFor(caller, file).length;
    return fileAttr(palFileIno(file), PAL_FILE_MODE, caller.ctx.uid, caller.ctx.gid, size, Date.now());
  }

  function rootAttr(ctx: CallerContext): FileAttr {
    return dirAttr(ROOT_INO, ctx.uid, ctx.gid, startedAt, 3);
  }

  function palDirAttr(ctx: CallerContext): FileAttr {
    return dirAttr(PAL_DIR_INO, ctx.uid, ctx.gid, startedAt);
  }

  /** A secret as the caller may see it, or the errno it gets instead. */
  async function secretFor(
    ctx: CallerContext,
    name: string,
    op: string,
  ): Promise<{ caller: Caller; entry: SecretEntry }> {
    const startNs = process.hrtime.bigint();
    const caller = await evaluate(ctx);
    const entry = deps.manifest.current().entries.get(name);
    // Every denial is recorded: the audit log folds repeats per (container, secret, reason).
    const auditDenial = (reason: string, reasonClass: string): void =>
      audit(caller, op, name, 'deny', reason, reasonClass, startNs);
    if (caller.failure) {
      // Fail closed, and the same answer whether or not the name exists.
      if (entry) auditDenial(caller.failure, failureClass(caller));
      throw new FsError(EACCES, caller.failure);
    }
    if (!entry) throw new FsError(ENOENT, `no secret ${name}`);
    const decision = decide(caller, entry);
    if (!decision.allow) {
      auditDenial(decision.reason, decision.class);
      // A secret the caller may not open does not exist for it; a caller pald cannot trust is
      // failed closed.
      throw new FsError(isFailClosed(decision) ? EACCES : ENOENT, decision.reason);
    }
    return { caller, entry };
  }

  async function openSecret(ctx: CallerContext, name: string): Promise<OpenReply> {
    const startNs = process.hrtime.bigint();
    const caller = await evaluate(ctx);
    const entry = deps.manifest.current().entries.get(name);
    if (caller.failure) {
      audit(caller, 'open', name, 'deny', caller.failure, failureClass(caller), startNs);
      throw new FsError(EACCES, caller.failure);
    }
    if (!entry) throw new FsError(ENOENT, `no secret ${name}`);
    // Authorise before anything is decrypted: the manifest's labels, and the sealed ones if known.
    const first = decide(caller, entry);
    if (!first.allow) {
      audit(caller, 'open', name, 'deny', first.reason, first.class, startNs);
      throw new FsError(EACCES, first.reason);
    }
    try {
      ledger.admitHandle(handleOwner(caller.identity));
    } catch (err) {
      audit(caller, 'open', name, 'deny', messageOf(err), 'limit', startNs);
      throw err;
    }
    let opened;
    try {
      opened = await deps.secrets.get(entry);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const reason = `decrypt ${name}: ${messageOf(err)}`;
      if (code === 'denied-by-backend' || code === 'name-mismatch') {
        audit(
          caller,
          'open',
          name,
          'deny',
          reason,
          code === 'name-mismatch' ? 'sealed-name' : 'backend-denied',
          startNs,
        );
        throw new FsError(EACCES, reason);
      }
      audit(caller, 'open', name, 'error', reason, 'backend-error', startNs);
      throw new FsError(EIO, reason);
    }
    // The sealed payload names itself and carries its own labels: pald learns them (for every
    // later decision, `pal explain` included) and policy decides again with them.
    const facts = {
      version: entry.version,
      size: opened.plaintext.length,
      sealedName: opened.sealedName,
      sealedLabels: opened.sealedLabels,
    };
    sealed.learn(name, facts);
    const second = policyDecide(caller, entry, { hostAllowUids: deps.hostAllowUids(), sealed: facts });
    if (!second.allow) {
      audit(caller, 'open', name, 'deny', second.reason, second.class, startNs);
      throw new FsError(EACCES, second.reason);
    }
    const fh = nextFh++;
    let content: SecureBuffer;
    try {
      // Every handle of this version reads one shared locked copy; the limits bound what a caller pins.
      content = ledger.openSecret(handleOwner(caller.identity), fh, `${name}\0${entry.version}`, opened.plaintext);
    } catch (err) {
      const limited = err instanceof FsError; // ENFILE / ENOMEM: this caller only
      const reason = limited ? err.message : `share ${name}: ${messageOf(err)}`;
      audit(caller, 'open', name, limited ? 'deny' : 'error', reason, limited ? 'limit' : 'internal-error', startNs);
      throw limited ? err : new FsError(EIO, reason);
    }
    const ino = inodes.inoFor(name);
    handles.set(fh, { ino, name });
    openPerSecret.set(ino, (openPerSecret.get(ino) ?? 0) + 1);
    audit(caller, 'open', name, 'allow', second.reason, second.class, startNs);
    return { fh, directIo: true, keepCache: false, content };
  }

  async function openPalFile(ctx: CallerContext, file: PalFileName): Promise<OpenReply> {
    const caller = await evaluate(ctx);
    const content = renderFor(caller, file); // not a secret: ordinary memory, never locked
    const fh = nextFh++;
    ledger.openPlain(handleOwner(caller.identity), fh);
    handles.set(fh, { ino: palFileIno(file), name: `${PAL_DIR_NAME}/${file}` });
    return { fh, directIo: true, keepCache: false, content };
  }

  const handlers: FuseHandlers = {
    async lookup(ctx, parent, name): Promise<EntryReply> {
      const reply = (attr: FileAttr): EntryReply => ({
        attr,
        entryTimeout: ENTRY_TIMEOUT_S,
        attrTimeout: ATTR_TIMEOUT_S,
      });
      if (parent === ROOT_INO) {
        if (name === PAL_DIR_NAME) return reply(palDirAttr(ctx));
        const { caller, entry } = await secretFor(ctx, name, 'lookup');
        return reply(secretAttr(caller, entry));
      }
      if (parent === PAL_DIR_INO) {
        if (!isPalFileName(name)) throw new FsError(ENOENT, `no ${PAL_DIR_NAME}/${name}`);
        return reply(palFileAttr(await evaluate(ctx), name));
      }
      throw new FsError(
        inodes.nameOf(parent) !== undefined || palFileName(parent) ? ENOTDIR : ENOENT,
        'not a directory',
      );
    },

    async getattr(ctx, ino): Promise<AttrReply> {
      const reply = (attr: FileAttr): AttrReply => ({ attr, attrTimeout: ATTR_TIMEOUT_S });
      if (ino === ROOT_INO) return reply(rootAttr(ctx));
      if (ino === PAL_DIR_INO) return reply(palDirAttr(ctx));
      const file = palFileName(ino);
      if (file) return reply(palFileAttr(await evaluate(ctx), file));
      const name = inodes.nameOf(ino);
      if (name === undefined) throw new FsError(ENOENT, `no inode ${ino}`);
      const { caller, entry } = await secretFor(ctx, name, 'getattr');
      return reply(secretAttr(caller, entry));
    },

    async readdir(ctx, ino): Promise<DirEntry[]> {
      if (ino === ROOT_INO) {
        // "." and ".." are added by the addon.
        const caller = await evaluate(ctx);
        return [
          { name: PAL_DIR_NAME, attr: palDirAttr(ctx) },
          ...visibleSecrets(caller).map((e) => ({ name: e.name, attr: secretAttr(caller, e) })),
        ];
      }
      if (ino === PAL_DIR_INO) {
        const caller = await evaluate(ctx);
        return [...PAL_FILES.map((f) => ({ name: f, attr: palFileAttr(caller, f) }))];
      }
      throw new FsError(ENOTDIR, 'not a directory');
    },

    async open(ctx, ino, flags): Promise<OpenReply> {
      if ((flags & O_ACCMODE) !== O_RDONLY || (flags & O_TRUNC) !== 0) {
        throw new FsError(EROFS, 'read-only filesystem');
      }
      if (ino === ROOT_INO || ino === PAL_DIR_INO) throw new FsError(EISDIR, 'is a directory');
      const file = palFileName(ino);
      if (file) return openPalFile(ctx, file);
      const name = inodes.nameOf(ino);
      if (name === undefined) throw new FsError(ENOENT, `no inode ${ino}`);
      return openSecret(ctx, name);
    },

    read(): Buffer {
      // Every handle is opened with `content`, so the addon serves reads itself.
      throw new FsError(EBADF, 'read without a content handle');
    },

    release(_ctx, _ino, fh): void {
      const handle = handles.get(fh);
      if (!handle) return;
      handles.delete(fh);
      ledger.release(fh);
      const ino = handle.ino;
      const left = (openPerSecret.get(ino) ?? 0) - 1;
      if (left > 0) openPerSecret.set(ino, left);
      else if (openPerSecret.delete(ino)) {
        // A MAP_PRIVATE mmap fills the file's page cache even under direct I/O: once the last
        // handle of a secret is closed, drop those pages so no plaintext stays in kernel memory.
        try {
          kernel?.invalidateInode(ino);
        } catch {
          // nothing cached for it
        }
      }
    },

    statfs(): StatfsReply {
      // A constant: the number of files would tell any caller how many secrets exist.
      return { blocks: 0, files: 0, nameMax: 255 };
    },
  };

  function notify(name: string): void {
    if (!kernel) return;
    try {
      kernel.invalidateEntry(ROOT_INO, name);
    } catch {
      // Nothing cached for that name: fine.
    }
    const ino = inodes.peek(name);
    if (ino === undefined) return;
    try {
      kernel.invalidateInode(ino);
    } catch {
      // Inode unknown to the kernel: fine.
    }
  }

  return {
    handlers,
    attachKernel(notifier) {
      kernel = notifier;
    },
    manifestChanged(next, previous) {
      const names = new Set([...previous.entries.keys(), ...next.entries.keys()]);
      for (const name of names) {
        const before = previous.entries.get(name);
        const after = next.entries.get(name);
        if (before && after && sameEntry(before, after)) continue;
        sealed.retain(name, after?.version);
        notify(name);
      }
    },
    openHandles: () => handles.size,
    forgetCallers: () => callers.forget(),
  };
}
