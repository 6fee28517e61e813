// Scans everything `docker save` writes for an image — manifest, config, every layer, whether the
// layers are plain tars (Docker's classic store) or gzip-compressed blobs (OCI layout) — for given
// byte strings. Nested tars are walked too, so a needle in a file of a layer is found by its path.

import { spawn } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { extract } from 'tar-stream';

export interface ScanResult {
  /** "outer-entry!inner-path" of every place a needle occurs, with the needle's label. */
  readonly hits: readonly string[];
  /** Every file path seen inside a layer (to show the scan reached what it was meant to). */
  readonly layerPaths: ReadonlySet<string>;
  /** Tar archives walked (the outer one and each layer). */
  readonly archives: number;
}

const GZIP = Buffer.from([0x1f, 0x8b]);
const ZSTD = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const isTar = (b: Buffer): boolean => b.length >= 263 && b.subarray(257, 262).toString('latin1') === 'ustar';

async function walk(
  tar: Readable,
  where: string,
  needles: ReadonlyMap<string, Buffer>,
  out: { hits: string[]; layerPaths: Set<string>; archives: number },
): Promise<void> {
  out.archives++;
  const ex = extract();
  tar.pipe(ex);
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const c of entry as AsyncIterable<Buffer>) chunks.push(c);
    const path = `${where}${entry.header.name}`;
    if (where !== '') out.layerPaths.add(entry.header.name.replace(/^\.?\//, ''));
    await scanBody(Buffer.concat(chunks), path, needles, out);
  }
}

async function scanBody(
  body: Buffer,
  path: string,
  needles: ReadonlyMap<string, Buffer>,
  out: { hits: string[]; layerPaths: Set<string>; archives: number },
): Promise<void> {
  if (body.subarray(0, 4).equals(ZSTD)) throw new Error(`${path}: zstd layer, which this scan cannot read`);
  const plain = body.subarray(0, 2).equals(GZIP) ? gunzipSync(body) : body;
  for (const [label, needle] of needles) if (plain.includes(needle)) out.hits.push(`${label} in ${path}`);
  if (isTar(plain)) await walk(Readable.from([plain]), `${path}!`, needles, out);
}

/** `docker save IMAGE` through the daemon at `host`, scanned as it streams. */
export async function scanSavedImage(
  host: string,
  image: string,
  needles: ReadonlyMap<string, Buffer>,
): Promise<ScanResult> {
  const child = spawn('docker', ['-H', host, 'save', image], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => stderr.push(b));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  const out = { hits: [] as string[], layerPaths: new Set<string>(), archives: 0 };
  try {
    await walk(child.stdout, '', needles, out);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const code = await exited;
  if (code !== 0) throw new Error(`docker save ${image}: exit ${code}: ${Buffer.concat(stderr).toString()}`);
  return out;
}
