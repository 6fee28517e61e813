// Human-readable output of the admin answers (`--json` prints them as they come).

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null ? (v as Obj) : {});
const str = (v: unknown): string =>
  v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
const list = (v: unknown): string => (Array.isArray(v) ? v.map(str).join(',') : str(v));

export function formatStatus(result: unknown): string {
  const s = obj(result);
  const docker = obj(s.docker);
  const trust = obj(s.trust);
  const keys = obj(s.keys);
  const manifest = obj(s.manifest);
  const cache = obj(s.cache);
  const audit = obj(s.audit);
  const decisions = obj(audit.decisions);
  const memory = obj(s.memory);
  const problems = Array.isArray(manifest.problems) ? manifest.problems.map(obj) : [];
  const lines = [
    `pald      ${str(s.pald)} (pid ${str(s.pid)}, version ${str(s.version)}, up ${str(s.uptimeSeconds)}s)`,
    `mount     ${str(s.mountpoint)} ${s.mounted ? '(mounted)' : '(NOT mounted)'}${Number(s.inertLayersAtStart) > 0 ? `, on top of ${str(s.inertLayersAtStart)} inert layer(s) of earlier runs` : ''}`,
    ...(s.restart ? [restartStatus(obj(s.restart))] : []),
    ...(s.passthrough ? [readsStatus(obj(s.passthrough))] : []),
    // The `docker` key holds every configured runtime (Docker, podman's socket, CRI): named for what it is.
    `runtime   ${str(docker.endpoint)} ${docker.reachable ? 'reachable' : `UNREACHABLE: ${str(docker.reason)}`} (${str(docker.cached)} containers cached)`,
    `trust     mode ${str(trust.mode)}, ${trust.healthy ? 'healthy' : `UNHEALTHY: ${str(trust.reason)}`}${trust.warning ? ` — WARNING: ${str(trust.warning)}` : ''}`,
    `keys      ${str(keys.dir)} (${str(keys.usable)} usable)`,
    ...(s.redoctober ? redOctoberStatus(obj(s.redoctober)) : []),
    `manifest  ${str(manifest.path)}: ${str(manifest.entries)} entries, generation ${str(manifest.generation)}, ${problems.length} problem(s)`,
    ...problems.map(
      (p) =>
        `  problem ${str(p.file)}${p.line ? `:${str(p.line)}` : ''}${p.entry ? ` [${str(p.entry)}]` : ''}: ${str(p.message)}`,
    ),
    `cache     ${str(cache.entries)} secrets, ${str(cache.bytes)} bytes`,
    ...(s.audit
      ? [
          `audit     ${str(audit.path)} ${audit.state === 'ok' ? 'ok' : `FAILING: ${str(audit.lastError)}`}` +
            `, ${str(decisions.allow)} allowed, ${str(decisions.deny)} denied, ${str(decisions.error)} errors` +
            `${Number(audit.droppedLines) > 0 ? `, ${str(audit.droppedLines)} lines DROPPED (last error ${str(audit.lastErrorAt)}: ${str(audit.lastError)})` : ''}`,
        ]
      : []),
    `memory    ${str(memory.lockedBytes)} of ${str(memory.lockedBytesLimit)} bytes of plaintext locked, ${str(memory.openHandles)} open handles (at most ${str(memory.openHandlesPerContainer)} per container)`,
  ];
  return lines.join('\n') + '\n';
}

/** Labels with the providers that granted them: "billing(cosign),db(notary+notation)". */
function labelsWithProviders(labels: unknown, grantedBy: unknown): string {
  const by = obj(grantedBy);
  return (Array.isArray(labels) ? labels : [])
    .map((l) => (Array.isArray(by[str(l)]) ? `${str(l)}(${(by[str(l)] as unknown[]).map(str).join('+')})` : str(l)))
    .join(',');
}

/** One line per provider asked: what it granted, or why it granted nothing. */
function providerLines(providers: unknown): string[] {
  return (Array.isArray(providers) ? providers : []).map(obj).map((p) => {
    const dropped = Array.isArray(p.droppedLabels) ? `, dropped [${list(p.droppedLabels)}] (not in grants)` : '';
    return `  ${str(p.provider)}: ${str(p.state)}, labels [${list(p.labels)}]${dropped} — ${str(p.reason)}`;
  });
}

/** `reads     by the kernel from locked memory (FUSE passthrough): 120 opens, 0 conflicts`. */
function readsStatus(p: Obj): string {
  if (p.negotiated)
    return `reads     by the kernel from locked memory (FUSE passthrough): ${str(p.opens)} opens, ${str(p.conflicts)} conflicts, ${str(p.contentReads)} READs through pald`;
  const why = !p.asked ? 'PAL_FUSE_PASSTHROUGH=0' : p.offered ? 'refused by the kernel' : 'not offered by the kernel';
  return `reads     through pald (no FUSE passthrough: ${why}): ${str(p.contentReads)} READs`;
}

/** `restart   handover (holder), resumed the previous session, generation 3`. */
function restartStatus(r: Obj): string {
  return `restart   ${str(r.mode)}${r.resumed ? ', resumed the previous session' : ''}, generation ${str(r.generation)}`;
}

export function formatContainers(result: unknown): string {
  const rows = (Array.isArray(result) ? result : [])
    .map(obj)
    .map((c) => [
      str(c.containerId).slice(0, 12),
      str(c.name),
      podColumn(c.pod),
      str(c.imageRef),
      labelsWithProviders(c.labels, c.grantedBy),
      str(c.trust),
    ]);
  return table(['CONTAINER', 'NAME', 'NAMESPACE/POD', 'IMAGE', 'LABELS', 'TRUST'], rows);
}

/** namespace/pod/container (uid …) of a Kubernetes pod's container. */
function podPath(pod: unknown): string {
  const p = obj(pod);
  return `${str(p.namespace)}/${str(p.name)}/${str(p.container)} (uid ${str(p.uid)})`;
}

/** namespace/pod of a Kubernetes pod's container; "-" for plain Docker or podman containers. */
function podColumn(pod: unknown): string {
  const p = obj(pod);
  return typeof p.namespace === 'string' && typeof p.name === 'string' ? `${p.namespace}/${p.name}` : '-';
}

export function formatSecrets(result: unknown): string {
  const rows = (Array.isArray(result) ? result : [])
    .map(obj)
    .map((e) => [
      str(e.name),
      list(e.labels),
      str(e.backend),
      str(e.mode),
      e.size === null || e.size === undefined ? '-' : str(e.size),
      str(e.version).slice(0, 12),
      originColumn(e),
    ]);
  return table(['NAME', 'LABELS', 'BACKEND', 'MODE', 'SIZE', 'VERSION', 'ORIGIN'], rows);
}

/** "host", or the image a secret came with (sha256: and 12 hex digits, as `docker images` shows them). */
function originColumn(e: Obj): string {
  const origin = str(e.origin) || 'host';
  const shown = origin.startsWith('sha256:') ? `image ${origin.slice(0, 19)}` : origin;
  return e.shadowed ? `${shown} (shadowed by host)` : shown;
}

export function formatAuditEvent(event: unknown): string {
  const e = obj(event);
  return (
    [
      str(e.time),
      str(e.decision).toUpperCase().padEnd(5),
      str(e.op),
      str(e.secret) || '-',
      `pid=${str(e.pid)} uid=${str(e.uid)}`,
      str(e.container) || 'host',
      ...(e.pod ? [`pod=${str(e.pod)}`] : []),
      `labels=${list(e.labels)}`,
      `(${str(e.reason)})`,
      `${str(e.latency_us)}us`,
      ...(Number(e.repeated) > 1 ? [`×${str(e.repeated)}`] : []),
    ].join(' ') + '\n'
  );
}

/** `pal explain` on an ro: secret: is a delegation missing right now (as of its last decrypt)? */
function redOctoberLine(d: Record<string, unknown>): string {
  const what = d.outcome === 'denied' ? 'delegation MISSING' : d.outcome === 'ok' ? 'delegations present' : 'ERROR';
  return `redoctober ${what} at the last decrypt (${str(d.at)}): ${str(d.reason)}`;
}

function redOctoberStatus(ro: Record<string, unknown>): string[] {
  const reach =
    ro.reachable === undefined ? 'not called yet' : ro.reachable ? 'reachable' : `UNREACHABLE: ${str(ro.lastError)}`;
  const secrets = Object.entries(obj(ro.secrets)).map(([name, v]) => {
    const d = obj(v);
    return `  ro: ${name} last decrypt ${str(d.outcome)} (${str(d.at)}): ${str(d.reason)}`;
  });
  return [`redoctober ${str(ro.server)} as ${str(ro.user)}: ${reach}`, ...secrets];
}

export function formatExplanation(result: unknown): string {
  const r = obj(result);
  const c = obj(r.container);
  const t = obj(r.trust);
  const s = obj(r.secret);
  return (
    [
      `decision   ${r.allow ? 'ALLOW' : 'DENY'}`,
      `reason     ${str(r.reason)}`,
      `container  ${str(c.name) || str(c.id)} (${str(c.kind)}) image ${str(c.image)} ${str(c.imageId)}`,
      ...(c.pod ? [`pod        ${podPath(c.pod)}`] : []),
      `trust      ${r.trust ? `${str(t.state)} via ${str(t.provider)}: labels [${labelsWithProviders(t.labels, t.grantedBy)}] — ${str(t.reason)}` : '-'}`,
      ...providerLines(t.providers),
      `secret     ${r.secret ? `${str(s.name)} needs [${list(s.labels)}]${s.image ? ` (carried by image ${str(s.image)})` : ''}` : 'not in the manifest'}`,
      ...(r.redoctober ? [redOctoberLine(obj(r.redoctober))] : []),
    ].join('\n') + '\n'
  );
}

export function formatWhoami(result: unknown): string {
  const w = obj(result);
  const c = obj(w.container);
  const t = obj(w.trust);
  return (
    [
      `kind       ${str(w.kind)}`,
      `process    pid ${str(w.pid)} uid ${str(w.uid)} gid ${str(w.gid)}`,
      ...(w.container
        ? [`container  ${str(c.name)} ${str(c.id).slice(0, 12)} image ${str(c.image)} ${str(c.imageId)}`]
        : []),
      ...(w.pod ? [`pod        ${podPath(w.pod)}`] : []),
      `labels     ${list(w.labels) || '(none)'}`,
      `trust      ${w.trust ? `${str(t.state)} via ${str(t.provider)}: ${str(t.reason)}` : '-'}`,
      ...providerLines(t.providers),
      ...(w.failure ? [`failure    ${str(w.failure)}`] : []),
    ].join('\n') + '\n'
  );
}
