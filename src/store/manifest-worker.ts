// Worker-thread entry: parses one manifest off pald's event loop (see manifest-off-thread.ts).
// It receives { file, text } and posts back the ManifestParse, which is plain data (entries are
// a Map of plain objects) and crosses the thread boundary by structured clone.
import { parentPort, workerData } from 'node:worker_threads';
import { parseManifest } from './manifest.js';

const { file, text } = workerData as { file: string; text: string };
parentPort!.postMessage(await parseManifest(file, text));
