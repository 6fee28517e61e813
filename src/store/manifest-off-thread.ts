// Parses a large manifest in a worker thread. The YAML library needs about 1 µs per byte (a
// manifest of 10,000 secrets, ~1 MB, takes ~1 s here), and on pald's event loop that time is a
// stall of every open() of every container: a reload must not freeze the filesystem. The worker
// also bounds what a hostile manifest can cost: a heap limit and a deadline, both reported as a
// problem of that manifest (the store keeps the last good one), never a crash of pald.
// Small manifests are parsed in place: starting a worker costs more than parsing them.
import { Worker } from 'node:worker_threads';
import { errorMessage } from '../shared/error-message.js';
import { parseManifest, type ManifestParse } from './manifest.js';

export interface OffThreadOptions {
  /** Manifests smaller than this are parsed on the calling thread (default 64 KiB). */
  readonly inlineBelowBytes?: number;
  /** The worker is stopped after this long (default 30 s). */
  readonly timeoutMs?: number;
  /** Old-generation heap of the worker, MiB (default 256). */
  readonly maxHeapMb?: number;
}

const DEFAULTS = { inlineBelowBytes: 64 * 1024, timeoutMs: 30_000, maxHeapMb: 256 } as const;

export async function parseManifestOffThread(
  file: string,
  text: string,
  options: OffThreadOptions = {},
): Promise<ManifestParse> {
  const opts = { ...DEFAULTS, ...options };
  if (Buffer.byteLength(text) < opts.inlineBelowBytes) return parseManifest(file, text);
  return new Promise<ManifestParse>((resolve) => {
    const fail = (message: string): void => resolve({ ok: false, problems: [{ file, message }] });
    const worker = new Worker(new URL('./manifest-worker.js', import.meta.url), {
      workerData: { file, text },
      resourceLimits: { maxOldGenerationSizeMb: opts.maxHeapMb },
      // The worker needs none of pald's environment (and must not see it).
      env: {},
      stdout: true,
      stderr: true,
    });
    const timer = setTimeout(() => {
      fail(`manifest parse took longer than ${opts.timeoutMs} ms`);
      void worker.terminate();
    }, opts.timeoutMs);
    worker.once('message', (parsed: ManifestParse) => {
      clearTimeout(timer);
      resolve(parsed);
      void worker.terminate();
    });
    worker.once('error', (err: Error & { code?: string }) => {
      clearTimeout(timer);
      fail(
        err.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? `manifest parse needed more than ${opts.maxHeapMb} MiB of memory`
          : `manifest could not be parsed: ${errorMessage(err)}`,
      );
    });
    worker.once('exit', (code) => {
      clearTimeout(timer);
      fail(`manifest parser exited (code ${code}) without an answer`); // no-op once resolved
    });
  });
}
