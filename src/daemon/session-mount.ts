// The FUSE session: mounted in a private staging dir and bind-mounted on top of the mountpoint's
// stack (see prepareMountpoint for why dead layers of earlier runs stay underneath).

import { mkdir, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { paldFusePassthrough } from './fuse-passthrough.js';
import { paldFuseThreads } from './fuse-threads.js';
import { prepareMountpoint, prepareStagingDir, stackOnto } from './mountinfo.js';
import { step, type Closers } from './startup.js';
import type { DaemonParts } from './parts.js';

/**
 * Canonical paths (as /proc/self/mountinfo shows them), resolved through the parent: the
 * mountpoint itself may be a dead FUSE layer that cannot be stat'ed.
 */
async function canonical(p: string, parentMode: number): Promise<string> {
  await mkdir(dirname(p), { recursive: true, mode: parentMode });
  return join(await realpath(dirname(p)), basename(p));
}

/** Mounts the session and stacks it onto the mountpoint; returns the canonical mountpoint. */
export async function mountSession(parts: DaemonParts, closers: Closers): Promise<string> {
  const { state, native, fs, log, handover } = parts;
  const config = state.config;
  const staging = await step(`staging dir for ${config.admin.socket}`, () =>
    canonical(join(dirname(config.admin.socket), 'fs'), 0o700),
  );
  const mountpoint = await step(`mountpoint ${config.mountpoint}`, () => canonical(config.mountpoint, 0o755));
  await handover.confirm(staging, mountpoint);
  const resuming = handover.takeover !== undefined; // the same mount stays: none of the fresh-mount steps
  // The mountpoint first: a live pald there refuses this one before anything of ours is mounted.
  const layers = resuming
    ? { deadLayers: 0 }
    : await step(`mountpoint ${mountpoint}`, () => prepareMountpoint(mountpoint));
  if (!resuming) await step(`staging dir ${staging}`, () => prepareStagingDir(staging));
  state.inertLayersAtStart = layers.deadLayers;
  if (layers.deadLayers > 0)
    log(
      `pald: ${mountpoint} has ${layers.deadLayers} layer(s) left by earlier pald runs: stacking on top so running containers follow`,
    );
  const mounted = await step(`mounting ${staging}`, () =>
    native.mount(staging, fs.handlers, {
      fsname: 'pal',
      extraOptions: ['allow_other'],
      generation: handover.generation,
      // Who reads /dev/fuse: worker threads by default, PAL_FUSE_THREADS=0 for the JS thread (fuse-threads.ts).
      threads: paldFuseThreads(),
      // The kernel reads open secrets from their locked pages itself; PAL_FUSE_PASSTHROUGH=0: no.
      passthrough: paldFusePassthrough(),
      ...(handover.takeover ? { takeover: handover.takeover } : {}),
      // Expected failures (EIO for a corrupt ciphertext…) are in the audit log already; only
      // errors that are not ours to expect are worth a log line.
      onError: (err, op) => {
        if (!(err instanceof native.FuseError))
          log(`pald: ${op}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
      },
    }),
  );
  state.mount = mounted;
  fs.attachKernel(mounted);
  closers.push(async () => {
    fs.attachKernel(undefined);
    // Handed over, the mount stays for the next pald. Unmounting ends the session; the layer at
    // the mountpoint stays (inert) so that running rslave containers pick up the next pald.
    await handover.stop(mounted, state.stopMode);
    state.mount = undefined;
  });
  if (!resuming) await step(`binding the session onto ${mountpoint}`, () => stackOnto(staging, mountpoint));
  await handover.keep(mounted);
  return mountpoint;
}
