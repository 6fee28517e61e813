// Rollback protection that survives restarts: the highest TUF metadata version verified per
// collection (GUN) and role, kept in memory and, with a state_dir, in one small file per collection
// (`<state_dir>/notary/<sha256 of the GUN>.json`, written atomically, 0600 in a 0700 directory).
// A state file that cannot be trusted fails closed for its collection: starting again from "no
// version seen" is exactly what a rollback attacker wants, so only the operator may reset it.
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

export class VersionStateError extends Error {}

/** Highest verified version per role of one collection. */
export interface CollectionVersions {
  highest(role: string): number | undefined;
  record(role: string, version: number): void;
  /** Make what was recorded durable; throws VersionStateError when it cannot. */
  save(): Promise<void>;
}

export interface VersionStore {
  /** The versions seen for one collection; throws VersionStateError when its state cannot be used. */
  open(gun: string): Promise<CollectionVersions>;
  /** Where a collection's state lives (for messages), if anywhere. */
  readonly location?: string;
}

export interface FileVersionStoreOptions {
  /** File safety (owner, mode, directory) as for every file pald reads: a problem, or undefined. */
  readonly checkFile?: (file: string) => Promise<string | undefined>;
}

const FORMAT = 1;
const MAX_STATE_BYTES = 256 * 1024;
const MAX_ROLES = 1000;
const ROLE = /^(root|timestamp|snapshot|targets(\/[A-Za-z0-9_.-]+)*)$/;

class MemoryVersions implements CollectionVersions {
  readonly seen: Map<string, number>;
  dirty = false;
  constructor(initial?: Map<string, number>) {
    this.seen = initial ?? new Map();
  }
  highest(role: string): number | undefined {
    return this.seen.get(role);
  }
  record(role: string, version: number): void {
    const prior = this.seen.get(role);
    if (prior === undefined || version > prior) {
      this.seen.set(role, version);
      this.dirty = true;
    }
  }
  async save(): Promise<void> {}
}

/** In-memory only (no state_dir): rollback protection lasts as long as the process. */
export function memoryVersionStore(): VersionStore {
  const byGun = new Map<string, MemoryVersions>();
  return {
    async open(gun) {
      let v = byGun.get(gun);
      if (v === undefined) byGun.set(gun, (v = new MemoryVersions()));
      return v;
    },
  };
}

function octal(mode: number): string {
  return '0' + (mode & 0o7777).toString(8);
}

/** Our own minimum, whatever checkFile adds: ours, not writable by group/others, the right type. */
function unsafeStat(what: string, st: { uid: number; mode: number }, euid: number): string | undefined {
  if (st.uid !== euid) return `${what} is owned by uid ${st.uid}, not ${euid}`;
  if ((st.mode & 0o022) !== 0) return `${what} is writable by group or others (mode ${octal(st.mode)})`;
  return undefined;
}

/** Parse a state file's text; a reason on anything unexpected. */
export function parseVersionState(text: string, gun: string): Map<string, number> | string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return `not valid JSON (${(e as Error).message})`;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return 'not a JSON object';
  const o = doc as Record<string, unknown>;
  if (o['format'] !== FORMAT) return `format ${JSON.stringify(o['format'] ?? null)} is not ${FORMAT}`;
  if (o['gun'] !== gun) return `it is for ${JSON.stringify(o['gun'] ?? null)}, not ${gun}`;
  const versions = o['versions'];
  if (typeof versions !== 'object' || versions === null || Array.isArray(versions))
    return '"versions" is not an object';
  const entries = Object.entries(versions as Record<string, unknown>);
  if (entries.length > MAX_ROLES) return `more than ${MAX_ROLES} roles`;
  const out = new Map<string, number>();
  for (const [role, v] of entries) {
    if (!ROLE.test(role) || role.length > 255)
      return `role name ${JSON.stringify(role.slice(0, 64))} is not a TUF role`;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return `version of ${role} is not an integer ≥ 0`;
    out.set(role, v);
  }
  return out;
}

function serializeVersionState(gun: string, seen: ReadonlyMap<string, number>): string {
  const versions: Record<string, number> = {};
  for (const role of [...seen.keys()].sort()) versions[role] = seen.get(role)!;
  return JSON.stringify({ format: FORMAT, gun, versions }, null, 1) + '\n';
}

class FileVersions extends MemoryVersions {
  private chain: Promise<void> = Promise.resolve();
  constructor(
    private readonly store: FileVersionStore,
    readonly gun: string,
    initial: Map<string, number>,
  ) {
    super(initial);
  }
  override save(): Promise<void> {
    // One write at a time per collection, each with everything recorded so far.
    const next = this.chain.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      try {
        const merged = await this.store.write(this.gun, this.seen);
        for (const [role, v] of merged) if (v > (this.seen.get(role) ?? -1)) this.seen.set(role, v);
      } catch (e) {
        this.dirty = true;
        throw e;
      }
    });
    this.chain = next.catch(() => {});
    return next;
  }
}

class FileVersionStore implements VersionStore {
  private readonly loaded = new Map<string, Promise<FileVersions>>();
  private readonly euid = process.geteuid?.() ?? 0;
  readonly location: string;

  constructor(
    readonly stateDir: string,
    private readonly opts: FileVersionStoreOptions,
  ) {
    this.location = path.join(stateDir, 'notary');
  }

  fileFor(gun: string): string {
    return path.join(this.location, `${createHash('sha256').update(gun).digest('hex')}.json`);
  }

  open(gun: string): Promise<CollectionVersions> {
    let p = this.loaded.get(gun);
    if (p === undefined) {
      p = this.read(gun).then((seen) => new FileVersions(this, gun, seen));
      this.loaded.set(gun, p);
      // A state that could not be read is read again next time (after the operator fixed it).
      p.catch(() => {
        if (this.loaded.get(gun) === p) this.loaded.delete(gun);
      });
    }
    return p;
  }

  private failure(gun: string, file: string, why: string): VersionStateError {
    return new VersionStateError(
      `trust state ${file} of ${gun} cannot be used: ${why}. ${gun} is refused until this is fixed: ` +
        `starting again from no versions seen would let older signed metadata back in (rollback). ` +
        `To reset it, check what the notary server serves for ${gun}, then remove that file; pald reads it again at the next verification`,
    );
  }

  /** state_dir and its notary/ folder: made 0700 if missing, and must be ours and not group/other-writable. */
  private async directories(): Promise<void> {
    for (const dir of [this.stateDir, this.location]) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const st = await lstat(dir);
      if (!st.isDirectory()) throw new VersionStateError(`state_dir ${dir} is not a directory`);
      const problem = unsafeStat(`state_dir ${dir}`, st, this.euid);
      if (problem !== undefined) throw new VersionStateError(problem);
    }
  }

  private async read(gun: string): Promise<Map<string, number>> {
    const file = this.fileFor(gun);
    try {
      await this.directories();
    } catch (e) {
      throw this.failure(gun, file, (e as Error).message);
    }
    let fh: FileHandle;
    try {
      fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return new Map(); // never verified before
      throw this.failure(gun, file, code === 'ELOOP' ? 'it is a symbolic link' : (e as Error).message);
    }
    let text: string;
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw this.failure(gun, file, 'it is not a regular file');
      const problem = unsafeStat('it', st, this.euid);
      if (problem !== undefined) throw this.failure(gun, file, problem);
      if (st.size > MAX_STATE_BYTES) throw this.failure(gun, file, `it is larger than ${MAX_STATE_BYTES} bytes`);
      const checked = await this.opts.checkFile?.(file);
      if (checked !== undefined) throw this.failure(gun, file, checked);
      text = (await fh.readFile()).toString('utf8');
    } catch (e) {
      if (e instanceof VersionStateError) throw e;
      throw this.failure(gun, file, (e as Error).message);
    } finally {
      await fh.close();
    }
    const parsed = parseVersionState(text, gun);
    if (typeof parsed === 'string') throw this.failure(gun, file, parsed);
    return parsed;
  }

  /** Write temp (0600, same directory) → fsync → rename → fsync the directory. */
  async write(gun: string, seen: ReadonlyMap<string, number>): Promise<ReadonlyMap<string, number>> {
    const file = this.fileFor(gun);
    // Another TrustService of this process (a reload) may have saved meanwhile: never go below it.
    const merged = new Map(seen);
    try {
      const onDisk = await this.read(gun);
      for (const [role, v] of onDisk) if (v > (merged.get(role) ?? -1)) merged.set(role, v);
    } catch {
      // Unreadable now: what we hold was read from it when it was good, and only ever grew.
    }
    const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await this.directories();
      const fh = await open(
        tmp,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o600,
      );
      try {
        await fh.writeFile(serializeVersionState(gun, merged));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
      const dh = await open(this.location, constants.O_RDONLY | constants.O_DIRECTORY);
      try {
        await dh.sync();
      } finally {
        await dh.close();
      }
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw new VersionStateError(`cannot save trust state ${file} of ${gun}: ${(e as Error).message}`);
    }
    return merged;
  }
}

/** Versions persisted under stateDir; each collection's file is read at its first verification. */
export function fileVersionStore(stateDir: string, opts: FileVersionStoreOptions = {}): VersionStore {
  return new FileVersionStore(stateDir, opts);
}
