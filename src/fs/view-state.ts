// The state behind the per-caller view (view.ts): who the caller is (the reuse memo), what
// policy decides for it, the open handles and what they pin, and the audit line of each
// decision. view.ts maps FUSE requests onto it.
// size: over 350 lines because it is one class, PalView, whose parts (memo, decision, handles, warm path) are
// already units of their own (caller-memo, decision-audit, open-handles, warm-path); what stays here is the order
// they are asked in per request, which reads best in one place.

import type { AuditEvent } from '../audit/index.js';
import {
  Errno,
  FuseError,
  type CallerContext,
  type FastPath,
  type FileAttr,
  type OpenReply,
  type SecureBuffer,
} from '../native/index.js';
import {
  attestCaller,
  decide as policyDecide,
  isFailClosed,
  mayAllowLabels,
  type Caller,
  type Decision,
  type SealedFacts,
  type SealedFactsRegistry,
} from '../policy/index.js';

import { errorMessage } from '../shared/error-message.js';
import { SecretError, type AuthoriseSealed, type OpenedSecret } from '../crypto/index.js';
import type { ManifestEntry } from '../store/index.js';
import type { FsDeps, ManifestView } from './deps.js';
import {
  ROOT_INO,
  PAL_DIR_INO,
  PAL_DIR_NAME,
  SecretInodes,
  keyedInoDerivation,
  palFileIno,
  type PalFileName,
} from './inodes.js';
import { dirAttr, fileAttr } from './attrs.js';
import { secretSizeIsBound, statedSecretSize } from './secret-size.js';
import { renderPalFile, type VisibleSecret } from './inspect.js';
import { CallerMemo } from './caller-memo.js';
import { HandleLedger, DEFAULT_HANDLE_LIMITS, handleOwner } from './handle-ledger.js';
import { OpenHandles } from './open-handles.js';
import { decisionEvent, elapsedUs, failureClass, recordDecision } from './decision-audit.js';
import { WarmPath } from './warm-path.js';
import { sameEntry, sameFacts } from './same-entry.js';
import { OpenLeases } from './open-leases.js';
import { StandingSponsors, STANDING_CAP_MS } from './standing-sponsors.js';
import { entriesStartingWith } from './label-index.js';

const { ENOENT, EACCES, EIO } = Errno;
const PAL_FILE_MODE = 0o444;
/** Secrets decided ahead for a container's start: the addon remembers as many per caller (fast_path.h PAL_FAST_GRANTS). */
const SPONSOR_SECRETS = 16;
/** A sponsor that could not stand (see stand) is decided again this long after. */
const STANDING_RETRY_MS = 1_000;

export interface KernelNotifier {
  invalidateEntry(parent: number, name: string): void;
  invalidateInode(ino: number): void;
  /** The addon's decision cache (warm-path.ts), used when FsDeps.fastPath is on. */
  readonly fastPath?: FastPath;
}

/** A secret the caller may see, with when its request arrived (for the audit latency). */
export interface Granted {
  readonly caller: Caller;
  readonly entry: ManifestEntry;
  readonly startNs: bigint;
  /** The warm path's generation when the decision began. */
  readonly generation: number;
  /** Policy's answer (an allow), made with the sealed facts known for this version then. */
  readonly decision: Decision;
}

export class PalView {
  readonly inodes: SecretInodes;
  readonly handles: OpenHandles;
  readonly warm: WarmPath;
  readonly leases: OpenLeases;
  private kernel: KernelNotifier | undefined;
  private readonly sealed: SealedFactsRegistry;
  private readonly ledger: HandleLedger;
  private readonly startedAt: number;
  // A caller attested a moment ago is reused for its next requests (see caller-memo.ts).
  readonly callers: CallerMemo;
  /** Containers whose init stands as a sponsor in the addon (sponsor). */
  readonly standing: StandingSponsors;
  /** Monotonic ms (FsDeps.clock). */
  private readonly clock: () => number;
  /** Secrets whose size, as last stated to the kernel, was a bound (secretAttr; openSecret tells the addon). */
  private readonly boundStated = new Set<string>();

  constructor(private readonly deps: FsDeps) {
    this.inodes = new SecretInodes(deps.inodeKey ? keyedInoDerivation(deps.inodeKey) : undefined, deps.inodeEpoch);
    // A resumed session (src/daemon/handover.ts): the kernel may name a secret by the inode number
    // the previous pald gave it, with no lookup first (a handle opened before the restart). Same
    // key: derive the previous epoch's numbers of the current versions now.
    const previous = deps.previousInodeEpoch;
    if (deps.inodeKey && previous !== undefined)
      for (const e of deps.manifest.current().entries.values()) this.inodes.adopt(previous, e.name, e.version);
    this.sealed = deps.sealedFacts;
    this.ledger = deps.handles ?? new HandleLedger(() => DEFAULT_HANDLE_LIMITS);
    this.startedAt = (deps.now ?? Date.now)();
    this.warm = new WarmPath(deps.fastPath ?? false);
    this.clock = deps.clock ?? (() => performance.now());
    this.standing = new StandingSponsors({
      clock: this.clock,
      responsor: (init) => this.responsor(init),
      ...(deps.schedule ? { schedule: deps.schedule } : {}),
    });
    // A new generation drops every sponsor in the addon: they are decided again (a fresh attestation).
    this.warm.onForget(() => this.standing.forgotten());
    // A MAP_PRIVATE mmap fills the file's page cache even under direct I/O: once the last handle
    // of a secret is closed, drop those pages so no plaintext stays in kernel memory.
    this.handles = new OpenHandles((ino) => this.tellKernel((k) => k.invalidateInode(ino)));
    this.leases = new OpenLeases({
      warm: this.warm,
      ledger: this.ledger,
      handles: this.handles,
      auditOpen: (d, timeMs, latencyUs, pid, lineWritten) => {
        const { reason, reasonClass } = d;
        if (lineWritten) {
          // The addon wrote the line (replayTail below): only the counters are JS's.
          this.deps.metrics?.decision('open', 'allow', reasonClass, latencyUs);
          return;
        }
        const replayed = {
          op: 'open',
          secret: d.name,
          decision: 'allow',
          reason,
          reasonClass,
          timeMs,
          latencyUs,
        } as const;
        // An open by a process the addon adopted from this caller (same container, uid and gid):
        // the line names the process that opened, as JS's own answer to it would.
        const caller = pid === d.caller.ctx.pid ? d.caller : { ...d.caller, ctx: { ...d.caller.ctx, pid } };
        recordDecision(this.deps.audit, this.deps.metrics, caller, replayed);
      },
      // The line's constant part, for the addon to write each replayed open's line itself: the very
      // line the branch above would write, but for the time, the pid and the latency.
      auditTail: (d) => {
        const { audit } = this.deps;
        if (!audit.appendLines || !audit.replayTail) return undefined; // a sink that takes no such lines
        const { name: secret, reason, reasonClass } = d;
        return audit.replayTail(
          decisionEvent(d.caller, { op: 'open', secret, decision: 'allow', reason, reasonClass }, 0, 0),
        );
      },
    });
    const { metrics } = deps;
    const attest = metrics
      ? async (ctx: CallerContext): Promise<Caller> => {
          const startNs = process.hrtime.bigint();
          const caller = await attestCaller(ctx, deps.identity, deps.trust);
          metrics.attribution(elapsedUs(startNs));
          return caller;
        }
      : (ctx: CallerContext) => attestCaller(ctx, deps.identity, deps.trust);
    this.callers = new CallerMemo({
      // A caller's image entries are read with it (a refreshed caller is a new object: no request waits for them).
      attest: async (ctx) => this.withImageEntries(await attest(ctx)),
      startTime: (pid) => deps.identity.startTime(pid),
      clock: this.clock,
      ...(deps.callerReuseMs !== undefined ? { reuseMs: deps.callerReuseMs } : {}),
      ...(deps.callerRefresh !== false ? { refresh: { addon: this.warm } } : {}),
    });
  }

  attachKernel(notifier: KernelNotifier | undefined): void {
    this.kernel = notifier;
    this.warm.attach(notifier?.fastPath);
  }

  /** Forget recently evaluated callers: none of them may be reused, in JS or in the addon. */
  forgetCallers(): void {
    this.callers.forget();
    this.warm.bump(); // the standing sponsors are decided again (from a fresh attestation)
  }

  private responsor(init: CallerContext): void {
    this.sponsor(init).catch(() => this.standing.drop(init));
  }

  /**
   * An allowed lookup's answer: its attr, remembered for the addon, and the open that follows
   * leased when it needs no decrypt (openAhead). The lookup handler and a start's sponsor both.
   */
  lookedUp(ctx: CallerContext, granted: Granted): FileAttr {
    const attr = this.secretAttr(granted.caller, granted.entry);
    this.remember(ctx, granted, attr);
    // An open() is a lookup then an open: the open is decided now, so the addon answers it in C.
    this.openAhead(ctx, granted);
    return attr;
  }

  /** Lets the addon answer this allowed lookup/getattr again for the same caller (warm-path.ts). */
  remember(ctx: CallerContext, granted: Granted, attr: FileAttr): void {
    const reuse = this.callers.reuseOf(granted.caller);
    // Only a container caller is vouched for: its cgroup text names its container, and every process
    // with that text, uid and gid is attested the same (a host caller's text names no one).
    const cgroup =
      reuse && granted.caller.identity.kind === 'container'
        ? this.deps.identity.containerCgroup?.(ctx.pid, reuse.startTime)
        : undefined;
    this.warm.remember(granted.generation, ctx, reuse, granted.entry.name, attr, cgroup);
  }

  /** Sends one invalidation; nothing cached for it (the kernel says ENOENT) is fine. */
  tellKernel(send: (kernel: KernelNotifier) => void): void {
    if (!this.kernel) return;
    try {
      send(this.kernel);
    } catch {
      // nothing cached for it
    }
  }

  /** Image-carried entries of each attested caller (the memo hands out the same Caller object). */
  private readonly imageEntries = new WeakMap<Caller, ReadonlyMap<string, ManifestEntry>>();

  async evaluate(ctx: CallerContext): Promise<Caller> {
    return this.withImageEntries(await this.callers.evaluate(ctx));
  }

  private async withImageEntries(caller: Caller): Promise<Caller> {
    const images = this.deps.imageSecrets;
    if (images && !caller.failure && caller.identity.kind === 'container' && !this.imageEntries.has(caller))
      this.imageEntries.set(caller, await images.forCaller(caller));
    return caller;
  }

  /** The host manifest's entry of that name, else the caller's image's (the host one wins a clash). */
  private entryFor(caller: Caller, name: string): ManifestEntry | undefined {
    return this.deps.manifest.current().entries.get(name) ?? this.imageEntries.get(caller)?.get(name);
  }

  /** Policy's decision, with what pald has learnt about the entry's sealed payload (if anything). */
  decide(caller: Caller, entry: ManifestEntry): Decision {
    return policyDecide(caller, entry, {
      hostAllowUids: this.deps.hostAllowUids(),
      sealed: this.sealed.factsFor(entry),
    });
  }

  audit(
    caller: Caller,
    op: string,
    secret: string | undefined,
    decision: AuditEvent['decision'],
    reason: string,
    reasonClass: string,
    startNs: bigint,
  ): void {
    recordDecision(this.deps.audit, this.deps.metrics, caller, { op, secret, decision, reason, reasonClass, startNs });
  }

  /** Exact once a decrypt learnt it; before that never below the plaintext's (secret-size.ts). */
  secretSize(entry: ManifestEntry): number {
    return statedSecretSize(entry, this.sealed.factsFor(entry)?.size, this.ledger.secretBytesLimit());
  }

  /** The attr a lookup, getattr or listing states; it notes whether the kernel now holds a bound. */
  secretAttr(caller: Caller, entry: ManifestEntry): FileAttr {
    const ino = this.inodes.inoFor(entry.name, entry.version);
    const learnt = this.sealed.factsFor(entry)?.size;
    if (secretSizeIsBound(entry, learnt)) this.boundStated.add(entry.name);
    else this.boundStated.delete(entry.name);
    const size = statedSecretSize(entry, learnt, this.ledger.secretBytesLimit());
    return fileAttr(ino, entry.mode, caller.ctx.uid, caller.ctx.gid, size, entry.mtimeMs);
  }

  visibleSecrets(caller: Caller): ManifestEntry[] {
    if (caller.failure) return [];
    return this.entriesOf(caller).filter((e) => this.decide(caller, e).allow);
  }

  /** Every entry the caller may name: the host manifest's, then its image's (the host one wins a clash). */
  private entriesOf(caller: Caller): ManifestEntry[] {
    const host = this.deps.manifest.current().entries;
    return [...host.values(), ...this.imageEntriesOf(caller, host)];
  }

  private imageEntriesOf(caller: Caller, host: ReadonlyMap<string, ManifestEntry>): ManifestEntry[] {
    return [...(this.imageEntries.get(caller)?.values() ?? [])].filter((e) => !host.has(e.name));
  }

  /**
   * What entriesOf() names that a container holding its trust's labels may be allowed, in the same
   * order: the host manifest's through its label index (a start does not scan thousands of other
   * services' secrets), then its image's.
   */
  private *holdableEntriesOf(caller: Caller): Generator<ManifestEntry> {
    const host = this.deps.manifest.current().entries;
    yield* entriesStartingWith(host, caller.trust?.labels ?? []);
    yield* this.imageEntriesOf(caller, host);
  }

  /**
   * A container attributed at its start, its init named as the kernel names that process's requests
   * (identity/started-init.ts): the lookups its processes will make are decided now, for the init,
   * as the lookup handler decides them (grant's decide(), then lookedUp), so that the addon adopts
   * any process of that container (same cgroup text, uid and gid: warm-path.ts) and answers its
   * first open in C. Nothing is audited (an allowed lookup never is), nothing decrypted (the
   * open-ahead leases only cached plaintexts). The init then stands in the addon past the reuse
   * window, until JS's answer for a process of that container could next change without a new
   * generation (standingMs), and is sponsored again then, or after a bump (StandingSponsors).
   * Returns how many secrets the addon may answer.
   */
  async sponsor(init: CallerContext): Promise<number> {
    if (!this.warm.addon) {
      this.standing.drop(init);
      return 0;
    }
    const startNs = process.hrtime.bigint();
    const generation = this.warm.generation;
    const caller = await this.evaluate(init);
    const reuse = this.callers.reuseOf(caller);
    if (caller.failure || caller.identity.kind !== 'container' || !reuse) {
      this.standing.drop(init);
      return 0;
    }
    // Only secrets whose first label the container holds are looked at, and of those the ones
    // decide() would deny for their manifest labels alone are skipped without a denial's reason to
    // build (decide() still makes every allow).
    const mayAllow = mayAllowLabels(caller);
    const decided: ManifestEntry[] = [];
    for (const entry of this.holdableEntriesOf(caller)) {
      if (decided.length >= SPONSOR_SECRETS) break;
      if (!mayAllow(entry.labels)) continue;
      const decision = this.decide(caller, entry);
      if (!decision.allow) continue;
      this.lookedUp(init, { caller, entry, startNs, generation, decision });
      decided.push(entry);
    }
    if (decided.length === 0) this.standing.drop(init);
    else this.stand(init, reuse.startTime, generation, this.standingMs(caller, decided));
    return decided.length;
  }

  /**
   * How long the init just sponsored may stand: until the trust decision JS holds for its image is
   * to be verified again, and no longer than the cache holds any plaintext a lease of it may share
   * (a lease must not keep a plaintext past the cache), at most STANDING_CAP_MS. Everything else
   * JS's answer depends on bumps the generation when it changes (fast_path.c, standing sponsor).
   */
  private standingMs(caller: Caller, decided: readonly ManifestEntry[]): number {
    const trustExpiresAt = caller.trust?.expiresAt;
    if (trustExpiresAt === undefined) return 0;
    let ms = Math.min(STANDING_CAP_MS, trustExpiresAt - (this.deps.now ?? Date.now)());
    const { secrets } = this.deps;
    for (const entry of decided) {
      if (!secrets.peek?.(entry)) continue; // not cached: no lease of it
      ms = Math.min(ms, secrets.cachedForMs?.(entry) ?? 0);
    }
    return ms;
  }

  /** Keeps the init sponsored in the addon for `ms` (extended past its window), then decided again. */
  private stand(init: CallerContext, startTime: string, generation: number, ms: number): void {
    const now = this.clock();
    // Beyond the bound, a start is decided ahead for its reuse window only.
    if (!this.standing.admit(init, now + Math.max(ms, STANDING_RETRY_MS))) return;
    const { pid, uid, gid } = init;
    if (this.warm.extend(generation, { pid, uid, gid, startTime, remainingMs: ms })) return;
    // Not extended (the generation moved or its window lapsed meanwhile, on a loaded host; or the
    // trust decision is due now): decided again a moment from now.
    this.standing.admit(init, now + STANDING_RETRY_MS);
  }

  renderFor(caller: Caller, file: PalFileName): Buffer {
    const visible: VisibleSecret[] = this.visibleSecrets(caller).map((e) => ({
      name: e.name,
      labels: e.labels,
      mode: e.mode,
      size: this.secretSize(e),
      version: e.version,
      mtimeMs: e.mtimeMs,
    }));
    const { version, health } = this.deps;
    return Buffer.from(renderPalFile(file, { caller, visible, version, health: health() }), 'utf8');
  }

  palFileAttr(caller: Caller, file: PalFileName): FileAttr {
    const size = this.renderFor(caller, file).length;
    return fileAttr(palFileIno(file), PAL_FILE_MODE, caller.ctx.uid, caller.ctx.gid, size, Date.now());
  }

  rootAttr(ctx: CallerContext): FileAttr {
    return dirAttr(ROOT_INO, ctx.uid, ctx.gid, this.startedAt, 3);
  }

  palDirAttr(ctx: CallerContext): FileAttr {
    return dirAttr(PAL_DIR_INO, ctx.uid, ctx.gid, this.startedAt);
  }

  /**
   * The preamble lookup, getattr and open share: the caller, the entry and policy's decision, or
   * the errno the caller gets instead. Every denial is recorded (the audit log folds repeats per
   * container, secret and reason). A secret a lookup may not see does not exist for the caller
   * (ENOENT); an open is refused (EACCES); a caller pald cannot trust is failed closed (EACCES),
   * with the same answer whether or not the name exists.
   */
  async grant(ctx: CallerContext, name: string, op: 'lookup' | 'getattr' | 'open'): Promise<Granted> {
    const startNs = process.hrtime.bigint();
    const generation = this.warm.generation;
    const caller = await this.evaluate(ctx);
    const entry = this.entryFor(caller, name);
    const deny = (reason: string, reasonClass: string): void =>
      this.audit(caller, op, name, 'deny', reason, reasonClass, startNs);
    if (caller.failure) {
      if (entry || op === 'open') deny(caller.failure, failureClass(caller));
      throw new FuseError(EACCES, caller.failure);
    }
    if (!entry) throw new FuseError(ENOENT, `no secret ${name}`);
    const decision = this.decide(caller, entry);
    if (!decision.allow) {
      deny(decision.reason, decision.class);
      throw new FuseError(op === 'open' || isFailClosed(decision) ? EACCES : ENOENT, decision.reason);
    }
    return { caller, entry, startNs, generation, decision };
  }

  /** Authorise before anything is decrypted: the manifest's labels, then the sealed ones. */
  async openSecret(ctx: CallerContext, name: string): Promise<OpenReply> {
    const { caller, entry, startNs, generation } = await this.grant(ctx, name, 'open');
    const owner = handleOwner(caller.identity);
    const fail = (decision: 'deny' | 'error', reason: string, reasonClass: string): void =>
      this.audit(caller, 'open', name, decision, reason, reasonClass, startNs);
    try {
      this.leases.admit(() => this.ledger.admitHandle(owner));
    } catch (err) {
      fail('deny', errorMessage(err), 'limit');
      throw err;
    }
    let opened;
    let refusedBeforeDecrypt: Decision | undefined;
    // A ciphertext that names its labels in clear (Red October) is checked against the caller
    // before it is decrypted: a decrypt spends delegation uses. Same decision as after a decrypt.
    const authorise: AuthoriseSealed = (header, version) => {
      const d = policyDecide(
        caller,
        { ...entry, version },
        { hostAllowUids: this.deps.hostAllowUids(), sealed: { version, size: 0, ...header } },
      );
      if (d.allow) return;
      refusedBeforeDecrypt = d;
      throw new SecretError('denied-before-decrypt', d.reason);
    };
    try {
      opened = await this.deps.secrets.get(entry, authorise);
    } catch (err) {
      if (refusedBeforeDecrypt) {
        fail('deny', refusedBeforeDecrypt.reason, refusedBeforeDecrypt.class);
        throw new FuseError(EACCES, refusedBeforeDecrypt.reason);
      }
      const code = (err as { code?: unknown }).code;
      const reason = `decrypt ${name}: ${errorMessage(err)}`;
      if (code === 'denied-by-backend' || code === 'name-mismatch') {
        fail('deny', reason, code === 'name-mismatch' ? 'sealed-name' : 'backend-denied');
        throw new FuseError(EACCES, reason);
      }
      fail('error', reason, 'backend-error');
      throw new FuseError(EIO, reason);
    }
    // The sealed payload names itself and carries its own labels: pald learns them (for every
    // later decision, `pal explain` included) and policy decides again with them.
    const facts = factsOf(entry, opened);
    if (!sameFacts(this.sealed.factsFor(entry), facts)) this.warm.bump(); // sizes and decisions may change
    this.sealed.learn(name, facts);
    const second = policyDecide(caller, entry, { hostAllowUids: this.deps.hostAllowUids(), sealed: facts });
    if (!second.allow) {
      fail('deny', second.reason, second.class);
      throw new FuseError(EACCES, second.reason);
    }
    const fh = this.handles.allocate();
    let content: SecureBuffer;
    const key = pinKey(entry);
    try {
      // Every handle of this version reads one shared locked copy; the limits bound what a caller pins.
      content = this.leases.admit(() => this.ledger.openSecret(owner, fh, key, opened.plaintext));
    } catch (err) {
      const limited = err instanceof FuseError; // ENFILE / ENOMEM: this caller only
      const reason = limited ? err.message : `share ${name}: ${errorMessage(err)}`;
      fail(limited ? 'deny' : 'error', reason, limited ? 'limit' : 'internal-error');
      throw limited ? err : new FuseError(EIO, reason);
    }
    const ino = this.inodes.inoFor(name, entry.version);
    this.handles.add(fh, { ino, name });
    this.audit(caller, 'open', name, 'allow', second.reason, second.class, startNs);
    const { plaintext } = opened;
    const reuse = this.callers.reuseOf(caller);
    const decision = { caller, name, ino, reason: second.reason, reasonClass: second.class };
    this.leases.offer({ ...decision, generation, ctx, reuse, owner, key, plaintext });
    // The kernel may still hold the bound a lookup stated: the addon keeps reads past the end
    // from overtaking the read of the end (secret-size.ts).
    const bound = this.boundStated.has(name) ? { trueSize: plaintext.length } : {};
    return { fh, directIo: true, keepCache: false, content, ...bound };
  }

  /**
   * After an allowed lookup by a caller the addon may answer: when the open that follows needs no
   * decrypt (this version's plaintext is cached and what its decrypt taught pald is known), decide
   * that open now as openSecret would and lease it to the addon, so it is answered in C and audited
   * when the addon reports it, like any leased open (open-leases.ts). Never decrypts: a lookup must
   * not spend a backend's work or a Red October delegation. Denied, or anything unknown: no lease,
   * and the open comes to JS as before.
   */
  openAhead(ctx: CallerContext, granted: Granted): void {
    const { caller, entry, generation, decision } = granted;
    if (!this.warm.addon || generation !== this.warm.generation) return;
    const reuse = this.callers.reuseOf(caller);
    const opened = reuse && this.deps.secrets.peek?.(entry);
    if (!reuse || !opened) return;
    const known = this.sealed.factsFor(entry);
    const facts = factsOf(entry, opened);
    // openSecret would learn something new here (and bump the generation): let it.
    if (!sameFacts(known, facts)) return;
    // openSecret's second decision, with these same facts, is the one the lookup just made.
    const { name } = entry;
    const ino = this.inodes.inoFor(name, entry.version);
    const owner = handleOwner(caller.identity);
    const key = pinKey(entry);
    const { plaintext } = opened;
    const { reason, class: reasonClass } = decision;
    // One handle: the open that follows. A caller that opens again asks JS, whose open leases more.
    const lease = { caller, name, ino, reason, reasonClass, generation, ctx, reuse, owner, key, plaintext, slots: 1 };
    this.leases.offer(lease);
  }

  async openPalFile(ctx: CallerContext, file: PalFileName): Promise<OpenReply> {
    const caller = await this.evaluate(ctx);
    const content = this.renderFor(caller, file); // not a secret: ordinary memory, never locked
    const fh = this.handles.allocate();
    this.leases.admit(() => this.ledger.openPlain(handleOwner(caller.identity), fh));
    this.handles.add(fh, { ino: palFileIno(file), name: `${PAL_DIR_NAME}/${file}` });
    return { fh, directIo: true, keepCache: false, content };
  }

  /** Audit lines the addon wrote for opens it replayed (from the leases' auditTail). */
  auditLines(lines: Buffer, count: number): void {
    this.deps.audit.appendLines?.(lines, count);
  }

  release(fh: number): void {
    if (this.handles.release(fh)) this.ledger.release(fh);
  }

  /** Drops what the kernel may hold of `name` (its entry and the pages of its versions' inodes). */
  forget(name: string): void {
    this.tellKernel((k) => k.invalidateEntry(ROOT_INO, name));
    for (const ino of this.inodes.inosOf(name)) this.tellKernel((k) => k.invalidateInode(ino));
  }

  manifestChanged(next: ManifestView, previous: ManifestView): void {
    this.warm.bump();
    const names = new Set([...previous.entries.keys(), ...next.entries.keys()]);
    for (const name of names) {
      const before = previous.entries.get(name);
      const after = next.entries.get(name);
      if (before && after && sameEntry(before, after)) continue;
      this.sealed.retain(name, after?.version);
      this.forget(name);
    }
  }
}

/** What a decrypt of this entry's version showed of its sealed payload (what pald learns from it). */
function factsOf(entry: ManifestEntry, opened: OpenedSecret): SealedFacts {
  const { sealedName, sealedLabels } = opened;
  return { version: entry.version, size: opened.plaintext.length, sealedName, sealedLabels };
}

/** The handle ledger's key of a secret version: every handle of it shares one pinned copy. */
function pinKey(entry: ManifestEntry): string {
  return `${entry.name}\0${entry.version}`;
}
