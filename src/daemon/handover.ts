// Restarts that change nothing for running containers (DESIGN "Restarts without stacked mounts").
// The /dev/fuse descriptor is what keeps a FUSE mount alive. pald gives a duplicate of it to a
// keeper that outlives pald — pald-holder (native/src/pald_holder.c), or systemd's fd store — right
// after mounting. The next pald takes it back and resumes the same session (the addon replays the
// saved INIT, fuse_io.c): the mount at /run/pal never changes and callers' requests wait in the
// kernel meanwhile. Without a keeper (first start, holder gone) pald mounts afresh and stacks, as
// before. docs/operations.md "Restarts" is the operator's view.

import { randomBytes } from 'node:crypto';
import { readFile, writeFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import * as native from '../native/index.js';
import type { FuseMount } from '../native/index.js';
import { decodePayload, encodePayload, INODE_KEY_BYTES, nextGeneration } from './handover-payload.js';
import { forgetListenEnv, listenedFuseFd, removeMessage, storeMessage } from './handover-systemd.js';
import { parseMountInfo } from './mountinfo.js';

export type RestartMode = 'handover (holder)' | 'handover (systemd fd store)' | 'fresh mount';

/** How long a stopping pald lets open handles drain and JS answer what it owes. */
const DRAIN_MS = 2_000;
const ANSWER_MS = 10_000;
/** A fresh session answers the kernel's INIT as soon as the event loop turns. */
const INIT_MS = 5_000;
/** FUSE protocol 7.40 (Linux 6.9): FUSE_NOTIFY_RESEND. */
const RESEND_MINOR = 40;

export interface HandoverOptions {
  readonly adminSocket: string;
  readonly env: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
  readonly pid?: number;
}

export interface Takeover {
  readonly fd: number;
  readonly init: Uint8Array;
}

export interface Handover {
  /** Set when the previous pald's session is to be resumed: mount with it, skip fresh-mount steps. */
  readonly takeover: Takeover | undefined;
  /**
   * Checks the kept session is the one mounted at staging and on top of the mountpoint; if not,
   * lets go of it (takeover becomes undefined) and says why: pald then mounts afresh.
   */
  confirm(staging: string, mountpoint: string): Promise<void>;
  readonly generation: number;
  /** Resuming: the generation of the session's previous pald (its inode epoch, src/fs/inodes.ts). */
  readonly previousGeneration: number | undefined;
  readonly inodeKey: Uint8Array;
  /** After mounting (and binding onto the mountpoint): give the keeper the descriptor. */
  keep(mount: FuseMount): Promise<void>;
  /** SIGTERM ("handover") leaves the mount to the next pald; SIGINT ("unmount") ends it. */
  stop(mount: FuseMount, how: StopMode): Promise<void>;
  status(): Record<string, unknown>;
}

export type StopMode = 'handover' | 'unmount';

/** Where the holder listens and, under systemd, where the payload waits: next to the admin socket. */
export function handoverPaths(adminSocket: string): { holderSocket: string; payloadFile: string } {
  const dir = dirname(adminSocket);
  return { holderSocket: join(dir, 'holder.sock'), payloadFile: join(dir, 'handover.bin') };
}

type Keeper = 'holder' | 'systemd' | undefined;

/** Finds what the previous pald left (if anything) before anything is mounted. */
export async function startHandover(opts: HandoverOptions): Promise<Handover> {
  const { log, env } = opts;
  const { holderSocket, payloadFile } = handoverPaths(opts.adminSocket);
  const notifySocket = env['NOTIFY_SOCKET'] || undefined;
  const found = await findKept(opts, holderSocket, payloadFile);
  let keeper: Keeper = found?.keeper;
  let takeover: Takeover | undefined = found ? { fd: found.fd, init: found.payload.init } : undefined;
  const generation = found ? nextGeneration(found.payload.generation) : 1;
  const inodeKey = found ? found.payload.inodeKey : Uint8Array.from(randomBytes(INODE_KEY_BYTES));
  let lastStop: Record<string, unknown> | undefined;
  let served: FuseMount | undefined;
  if (found) log(`pald: resuming the mount of the previous pald (kept by ${found.keeper}, generation ${generation})`);

  const payload = (init: Uint8Array): Uint8Array => encodePayload({ generation, inodeKey, init });

  return {
    get takeover() {
      return takeover;
    },
    async confirm(staging, mountpoint) {
      if (!takeover) return;
      const problem = await verifyResumable(staging, mountpoint);
      if (!problem) return;
      log(`pald: the kept session cannot be resumed (${problem}): mounting afresh`);
      native.closeFd(takeover.fd);
      takeover = undefined;
    },
    generation,
    previousGeneration: found?.payload.generation,
    inodeKey,
    async keep(mount) {
      served = mount;
      keeper = await storeSession(mount, { log, notifySocket, holderSocket, payloadFile, payload });
    },
    async stop(mount, how) {
      if (keeper === 'holder' && !holderAlive(holderSocket)) keeper = undefined; // gone: nobody keeps the mount
      if (how === 'handover' && keeper) {
        lastStop = await handOver(mount, log);
        return;
      }
      await releaseKept(keeper, { notifySocket, holderSocket, payloadFile });
      await mount.unmount();
    },
    status() {
      const s = served?.handoverState();
      return {
        mode: modeName(keeper),
        resumed: takeover !== undefined,
        generation,
        // After a takeover: 1 = the kernel resent what the previous pald left unanswered.
        ...(s ? { resend: s.resend, foreignHandleRequests: s.foreign, reopenedHandles: s.reopens } : {}),
        ...(lastStop ? { lastStop } : {}),
      };
    },
  };
}

interface KeeperPlaces {
  readonly notifySocket: string | undefined;
  readonly holderSocket: string;
  readonly payloadFile: string;
}

/** Gives the session's descriptor to systemd's fd store or to the holder; which one took it (or none). */
async function storeSession(
  mount: FuseMount,
  ctx: KeeperPlaces & { readonly log: (line: string) => void; readonly payload: (init: Uint8Array) => Uint8Array },
): Promise<Keeper> {
  const { log, notifySocket, holderSocket, payloadFile, payload } = ctx;
  const init = await initOf(mount);
  if (!init) {
    log('pald: restart handover off: the session answered no INIT in time');
    return undefined;
  }
  const { fd } = mount.handoverState();
  if (notifySocket) {
    // systemd keeps one descriptor per name (FileDescriptorStoreMax=1): storing again after a
    // takeover finds the same open file there and changes nothing.
    await writeFile(payloadFile, payload(init), { mode: 0o600 });
    try {
      native.sdNotifyWithFd(notifySocket, storeMessage, fd);
      return 'systemd';
    } catch (err) {
      log(`pald: restart handover off: FDSTORE: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  }
  try {
    native.holderPut(holderSocket, fd, payload(init));
    return 'holder';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).errno;
    // No holder running: the ordinary case without one; stay quiet about it.
    if (code !== 2 && code !== 111) log(`pald: restart handover off: holder: ${(err as Error).message}`);
    return undefined;
  }
}

/** A stop for good: the keeper lets go of the descriptor, so unmounting really ends the session. */
async function releaseKept(keeper: Keeper, places: KeeperPlaces): Promise<void> {
  if (keeper === 'holder') native.holderDrop(places.holderSocket);
  if (keeper === 'systemd' && places.notifySocket) {
    try {
      native.sendUnixDatagram(places.notifySocket, removeMessage);
    } catch {
      // systemd closes the store itself when the unit stops
    }
    await rm(places.payloadFile, { force: true });
  }
}

function holderAlive(socket: string): boolean {
  try {
    const held = native.holderTake(socket);
    if (held) native.closeFd(held.fd);
    return held !== undefined;
  } catch {
    return false;
  }
}

function modeName(keeper: Keeper): RestartMode {
  return keeper === 'holder'
    ? 'handover (holder)'
    : keeper === 'systemd'
      ? 'handover (systemd fd store)'
      : 'fresh mount';
}

interface Kept {
  readonly keeper: 'holder' | 'systemd';
  readonly fd: number;
  readonly payload: Exclude<ReturnType<typeof decodePayload>, string>;
}

async function findKept(opts: HandoverOptions, holderSocket: string, payloadFile: string): Promise<Kept | undefined> {
  const { env, log } = opts;
  const listened = listenedFuseFd(env, opts.pid ?? process.pid);
  forgetListenEnv(env);
  let fd: number | undefined;
  let bytes: Uint8Array | undefined;
  let keeper: Kept['keeper'] = 'systemd';
  if (listened !== undefined) {
    if (!native.claimFuseFd(listened)) {
      log(`pald: descriptor ${listened} from systemd is not /dev/fuse: ignored, mounting afresh`);
      return undefined;
    }
    fd = listened;
    bytes = await readFile(payloadFile).catch(() => undefined);
  } else {
    try {
      const held = native.holderTake(holderSocket);
      if (!held) return undefined;
      ({ fd } = held);
      bytes = held.payload;
      keeper = 'holder';
    } catch (err) {
      log(`pald: holder at ${holderSocket}: ${err instanceof Error ? err.message : String(err)}; mounting afresh`);
      return undefined;
    }
  }
  const payload = bytes ? decodePayload(bytes) : 'no payload';
  if (typeof payload === 'string') {
    log(`pald: the kept session cannot be resumed (${payload}): mounting afresh`);
    native.closeFd(fd);
    return undefined;
  }
  return { keeper, fd, payload };
}

/** The INIT request of a fresh session, once answered. */
async function initOf(mount: FuseMount): Promise<Uint8Array | undefined> {
  const deadline = Date.now() + INIT_MS;
  for (;;) {
    const { init } = mount.handoverState();
    if (init) return init;
    if (Date.now() > deadline) return undefined;
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function until(done: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

/**
 * SIGTERM with a keeper: stop serving without unmounting. Where the kernel can resend (>= 6.9),
 * new requests are parked (read, left unanswered; the next pald gets them again) while requests on
 * this session's open handles are still served until those handles close — so reads already
 * under way finish here. Older kernels: stop reading at once; requests wait in the kernel.
 */
async function handOver(mount: FuseMount, log: (line: string) => void): Promise<Record<string, unknown>> {
  const before = mount.handoverState();
  const canResend = (before.kernelMinor ?? 0) >= RESEND_MINOR;
  let drained = true;
  if (canResend) {
    mount.park();
    drained = await until(() => {
      const s = mount.handoverState();
      return s.ownHandles <= 0 && s.outstanding === 0;
    }, DRAIN_MS);
  }
  await mount.release();
  const answered = await until(() => mount.handoverState().outstanding === 0, ANSWER_MS);
  const after = mount.handoverState();
  const summary = {
    parked: after.parked,
    openHandlesLeft: Math.max(0, after.ownHandles),
    drained,
    answered,
  };
  log(
    `pald: handed over: mount left for the next pald (${after.parked} request(s) parked for resend, ` +
      `${summary.openHandlesLeft} handle(s) still open${answered ? '' : ', some requests unanswered'})`,
  );
  return summary;
}

/**
 * The resumed mount must be a FUSE mount at the staging dir, and the mountpoint's top mount the
 * same superblock (same device number): otherwise something else sits there and the descriptor
 * is not ours to serve. Never stats either path: that would wait for the session we are about to run.
 */
export async function verifyResumable(staging: string, mountpoint: string): Promise<string | undefined> {
  const lines = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
  const top = (p: string) => lines.filter((l) => l.mountPoint === p).at(-1);
  const s = top(staging);
  const m = top(mountpoint);
  if (!s || !s.fsType.startsWith('fuse') || s.source !== 'pal') return `no pal FUSE mount at ${staging}`;
  if (!m || !m.fsType.startsWith('fuse') || m.source !== 'pal') return `no pal FUSE mount on top of ${mountpoint}`;
  if (s.device !== m.device) return `${mountpoint} (${m.device}) is not the session at ${staging} (${s.device})`;
  return undefined;
}
