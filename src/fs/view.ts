// The per-caller filesystem (SPEC §4). Every request is answered for the caller the kernel names:
// a secret exists for a caller only if policy lets that caller open it; nothing is cached in the
// kernel (timeouts 0) so one caller's view can never be served to another.

import {
  Errno,
  FuseError,
  type CallerContext,
  type DirEntry,
  type EntryReply,
  type AttrReply,
  type FileAttr,
  type FuseHandlers,
  type OpenReply,
  type StatfsReply,
} from '../native/index.js';
import type { FsDeps, ManifestView } from './deps.js';
import { ROOT_INO, PAL_DIR_INO, PAL_DIR_NAME, PAL_FILES, palFileName, isPalFileName } from './inodes.js';
import { ENTRY_TIMEOUT_S, ATTR_TIMEOUT_S } from './attrs.js';
import { PalView, type KernelNotifier } from './view-state.js';

export type { KernelNotifier };

const { ENOENT, EROFS, ENOTDIR, EISDIR, EBADF } = Errno;
// Linux open(2) flag bits (node's fs.constants lacks O_ACCMODE).
const O_ACCMODE = 0o3;
const O_RDONLY = 0;
const O_TRUNC = 0o1000;

export interface PalFilesystem {
  readonly handlers: FuseHandlers;
  /** Once mounted: where to send cache invalidations. */
  attachKernel(notifier: KernelNotifier | undefined): void;
  /** Call on every manifest change: drops kernel caches and learnt facts of changed secrets. */
  manifestChanged(next: ManifestView, previous: ManifestView): void;
  openHandles(): number;
  /** Forget recently evaluated callers (a container died or changed, trust was reset). */
  forgetCallers(): void;
  /**
   * A container just started, its init named as a caller: decide its first process's lookups ahead
   * (PalView.sponsor). Resolves to how many secrets the warm path may answer; never rejects.
   */
  sponsor(init: CallerContext): Promise<number>;
  /** Containers whose init stands as a sponsor now (standing-sponsors.ts). */
  standingSponsors(): number;
}

function entryReply(attr: FileAttr): EntryReply {
  return { attr, entryTimeout: ENTRY_TIMEOUT_S, attrTimeout: ATTR_TIMEOUT_S };
}

function attrReply(attr: FileAttr): AttrReply {
  return { attr, attrTimeout: ATTR_TIMEOUT_S };
}

function handlersOf(view: PalView): FuseHandlers {
  return {
    async lookup(ctx, parent, name): Promise<EntryReply> {
      if (parent === ROOT_INO) {
        if (name === PAL_DIR_NAME) return entryReply(view.palDirAttr(ctx));
        return entryReply(view.lookedUp(ctx, await view.grant(ctx, name, 'lookup')));
      }
      if (parent === PAL_DIR_INO) {
        if (!isPalFileName(name)) throw new FuseError(ENOENT, `no ${PAL_DIR_NAME}/${name}`);
        return entryReply(view.palFileAttr(await view.evaluate(ctx), name));
      }
      const isFile = view.inodes.nameOf(parent) !== undefined || palFileName(parent) !== undefined;
      throw new FuseError(isFile ? ENOTDIR : ENOENT, 'not a directory');
    },

    async getattr(ctx, ino): Promise<AttrReply> {
      if (ino === ROOT_INO) return attrReply(view.rootAttr(ctx));
      if (ino === PAL_DIR_INO) return attrReply(view.palDirAttr(ctx));
      const file = palFileName(ino);
      if (file) return attrReply(view.palFileAttr(await view.evaluate(ctx), file));
      const name = view.inodes.nameOf(ino);
      if (name === undefined) throw new FuseError(ENOENT, `no inode ${ino}`);
      const granted = await view.grant(ctx, name, 'getattr');
      const attr = view.secretAttr(granted.caller, granted.entry);
      // A handle of an earlier version (or of the previous pald's epoch): the name's current
      // attributes under the inode's own number, and nothing for the warm path to replay.
      if (attr.ino !== ino) return attrReply({ ...attr, ino });
      view.remember(ctx, granted, attr);
      return attrReply(attr);
    },

    async readdir(ctx, ino): Promise<DirEntry[]> {
      if (ino === ROOT_INO) {
        // "." and ".." are added by the addon.
        const caller = await view.evaluate(ctx);
        return [
          { name: PAL_DIR_NAME, attr: view.palDirAttr(ctx) },
          ...view.visibleSecrets(caller).map((e) => ({ name: e.name, attr: view.secretAttr(caller, e) })),
        ];
      }
      if (ino === PAL_DIR_INO) {
        const caller = await view.evaluate(ctx);
        return PAL_FILES.map((f) => ({ name: f, attr: view.palFileAttr(caller, f) }));
      }
      throw new FuseError(ENOTDIR, 'not a directory');
    },

    async open(ctx, ino, flags): Promise<OpenReply> {
      if ((flags & O_ACCMODE) !== O_RDONLY || (flags & O_TRUNC) !== 0) {
        throw new FuseError(EROFS, 'read-only filesystem');
      }
      if (ino === ROOT_INO || ino === PAL_DIR_INO) throw new FuseError(EISDIR, 'is a directory');
      const file = palFileName(ino);
      if (file) return view.openPalFile(ctx, file);
      const name = view.inodes.nameOf(ino);
      if (name === undefined) throw new FuseError(ENOENT, `no inode ${ino}`);
      return view.openSecret(ctx, name);
    },

    read(): Buffer {
      // Every handle is opened with `content`, so the addon serves reads itself.
      throw new FuseError(EBADF, 'read without a content handle');
    },

    release(_ctx, _ino, fh): void {
      view.release(fh);
    },

    // The warm path's news: opens the addon answered from a lease, and the audit lines it wrote.
    fastEvent: (event) => view.leases.event(event),
    fastAuditLines: (lines, count) => view.auditLines(lines, count),

    statfs(): StatfsReply {
      // A constant: the number of files would tell any caller how many secrets exist.
      return { blocks: 0, files: 0, nameMax: 255 };
    },
  };
}

export function createPalFilesystem(deps: FsDeps): PalFilesystem {
  const view = new PalView(deps);
  return {
    handlers: handlersOf(view),
    attachKernel: (notifier) => view.attachKernel(notifier),
    manifestChanged: (next, previous) => view.manifestChanged(next, previous),
    openHandles: () => view.handles.size,
    forgetCallers: () => view.forgetCallers(),
    sponsor: (init) => view.sponsor(init).catch(() => 0),
    standingSponsors: () => view.standing.size,
  };
}
