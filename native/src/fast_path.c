/* The decision cache of the warm path. Security rests on three checks made on every hit: the
 * generation JS decided at is still the current one (JS bumps it on everything that can change a
 * decision), JS's caller reuse window has not ended (the same window its own caller memo uses, so
 * C never reuses a caller longer than JS would), and the thread holding the pid is the one JS
 * attested. The first two are made under the lock, before and again after the third, which is a
 * syscall made without it (valid_caller). That last check rests on a pin taken when the caller is remembered:
 * a pidfd for that very thread (a poll of it says POLLIN once that thread exited, even if its
 * number was reused since: a pidfd holds its struct pid; pal_pidfd_running), checked to name the
 * attested start time once; or, where no pidfd can be had, its /proc/<pid>/stat fd, which stops answering once
 * that process is gone and whose start time is compared on every request. Only allow decisions
 * are remembered: every denial still goes to JS, which audits it. An OPEN is replayed only from a
 * lease JS attached after an allowed open by that caller (pal_fast_lease_open); the addon tells
 * JS of each replayed open and each close afterwards (fuse_bridge.c), and JS writes the audit
 * line. A caller in use (its `used` flag) is attested again by JS before its window ends; only when
 * that full attestation gives the same answer at the same generation does JS extend the window
 * (pal_fast_extend), so the addon never reuses a caller longer than JS's own memo would; the one
 * longer window is a container's standing sponsor (below).
 *
 * Adoption (the first sight of a process in C): JS vouches for a container caller it remembered
 * with the /proc/<pid>/cgroup text its resolver attributed it by (pal_fast_vouch). JS's identity
 * of a container process is a function of that text (the verdict), the container's record and the
 * kernel's uid and gid, so a process seen for the first time whose text, uid and gid are the
 * sponsor's, at the sponsor's generation and within its window, is the caller JS would attest:
 * the addon pins it by a pidfd, reads its stat and cgroup while pinned (alive after the reads),
 * and gives it the sponsor's grants, its leases shared and its window. Anything else (no sponsor,
 * another text, a zombie, no pidfd) goes to JS as before.
 *
 * A standing sponsor (src/fs/standing-sponsors.ts) is a container's init that JS attested at the
 * container's start and extended past the reuse window, up to when JS's answer for a process of
 * that container could next differ without a new generation: the expiry of the trust decision JS
 * holds for its image and of the cached plaintexts its leases share. Nothing else JS's answer for
 * such a process depends on changes without a generation bump (its container's record changes only
 * through runtime events; the manifest, sealed facts, config and trust resets bump it), and the
 * adopted process's own cgroup text, uid and gid are read while it is pinned, as for any adoption. */
#include "fast_path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "audit_line.h"
#include "pidfd.h"

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void pal_fast_init(pal_fast *f) {
  memset(f, 0, sizeof *f);
  pthread_mutex_init(&f->lock, NULL);
}

static void lease_unref(pal_fast_lease *l) {
  if (--l->refs > 0) return;
  pal_secmem_unref(l->content);
  free(l->audit_tail);
  free(l);
}

/* The lease answers no more opens; JS gets its unused handle numbers back. Lock held. */
static void retire(pal_fast *f, pal_fast_lease *l) {
  if (l->retired) return;
  l->retired = true;
  pal_fast_retired *r = calloc(1, sizeof *r);
  if (r) { /* out of memory: the numbers stay booked in JS until the next reclaim */
    r->lease_id = l->id;
    r->in_use = (unsigned)(l->refs - l->holders);
    r->opened = l->opened;
    r->nfree = l->nfree;
    memcpy(r->free_fh, l->free_fh, sizeof r->free_fh);
    r->next = f->retired;
    f->retired = r;
    atomic_store(&f->signal_due, true);
  }
  l->nfree = 0;
  atomic_fetch_add(&f->stats.retired_leases, 1);
}

/* The grant lets go of its lease: its own lease is retired with it; a sponsor's lease that an
 * adopted caller shares stays the sponsor's (it goes when the sponsor's grant does). */
static void retire_grant(pal_fast *f, pal_fast_grant *g) {
  pal_fast_lease *l = g->lease;
  g->lease = NULL;
  if (!l) return;
  if (!g->shared) retire(f, l);
  g->shared = false;
  l->holders--;
  lease_unref(l);
}

/* The sponsors (callers with a cgroup text), so a first sight need not scan every slot. */
static void drop_sponsor(pal_fast *f, size_t slot) {
  for (size_t i = 0; i < f->nsponsors; i++) {
    if (f->sponsors[i].slot != slot) continue;
    f->sponsors[i] = f->sponsors[--f->nsponsors];
    return;
  }
}

/* A pin holding `fd` (taken over: closed here when no pin can be had), or NULL. */
static pal_fast_pin *pin_new(int fd, bool is_pidfd, unsigned long long start_time) {
  pal_fast_pin *p = malloc(sizeof *p);
  if (!p) {
    close(fd);
    return NULL;
  }
  atomic_init(&p->refs, 1);
  p->fd = fd;
  p->is_pidfd = is_pidfd;
  p->start_time = start_time;
  return p;
}

static void pin_ref(pal_fast_pin *p) { atomic_fetch_add(&p->refs, 1); }

/* The last reference closes the fd: no request is checking it any more. */
static void pin_unref(pal_fast_pin *p) {
  if (!p || atomic_fetch_sub(&p->refs, 1) != 1) return;
  close(p->fd);
  free(p);
}

static void forget_caller(pal_fast *f, pal_fast_caller *c) {
  for (size_t i = 0; i < PAL_FAST_GRANTS; i++) retire_grant(f, &c->grants[i]);
  pin_unref(c->pin);
  if (c->cgroup) {
    drop_sponsor(f, (size_t)(c - f->callers));
    free(c->cgroup);
  }
  memset(c, 0, sizeof *c);
}

static void forget_all(pal_fast *f) {
  if (!f->callers) return;
  for (size_t i = 0; i < PAL_FAST_SLOTS; i++) forget_caller(f, &f->callers[i]);
}

static void free_tables(pal_fast *f) {
  free(f->callers);
  free(f->tried);
  free(f->sponsors);
  f->callers = NULL;
  f->tried = NULL;
  f->sponsors = NULL;
}

void pal_fast_destroy(pal_fast *f) {
  forget_all(f);
  pal_fast_retired *r = pal_fast_take_retired(f);
  while (r) {
    pal_fast_retired *next = r->next;
    free(r);
    r = next;
  }
  free_tables(f);
  pthread_mutex_destroy(&f->lock);
}

bool pal_fast_enable(pal_fast *f, bool on) {
  pthread_mutex_lock(&f->lock);
  bool ok = true;
  forget_all(f);
  if (on && !f->callers) {
    f->callers = calloc(PAL_FAST_SLOTS, sizeof *f->callers);
    f->tried = calloc(PAL_FAST_SLOTS, sizeof *f->tried);
    f->sponsors = calloc(PAL_FAST_SLOTS, sizeof *f->sponsors);
    ok = f->callers && f->tried && f->sponsors;
    if (!ok) free_tables(f);
  }
  f->enabled = on && ok;
  const char *pin = getenv("PAL_TEST_FAST_PIN");
  f->force_stat_pins = pin && strcmp(pin, "stat") == 0;
  pthread_mutex_unlock(&f->lock);
  return ok;
}

void pal_fast_set_generation(pal_fast *f, uint64_t generation) {
  pthread_mutex_lock(&f->lock);
  f->generation = generation;
  forget_all(f); /* nothing of an older generation can hit again: free the fds now */
  pthread_mutex_unlock(&f->lock);
}

/* The state (field 3) and start time (field 22) of a NUL-terminated /proc/<pid>/stat line. */
static bool parse_stat(const char *buf, char *state, unsigned long long *out) {
  /* "pid (comm) state ppid ...": comm may hold spaces and parentheses; fields count from the
   * last ')'. The start time is field 22, the 20th after it. */
  const char *p = strrchr(buf, ')');
  if (!p) return false;
  p++;
  for (int field = 3; field <= 22; field++) {
    while (*p == ' ') p++;
    if (!*p) return false;
    if (field == 3) *state = *p;
    if (field == 22) {
      char *end;
      errno = 0;
      unsigned long long v = strtoull(p, &end, 10);
      if (errno || end == p) return false;
      *out = v;
      return true;
    }
    while (*p && *p != ' ') p++;
  }
  return false;
}

bool pal_fast_read_start_time(int fd, unsigned long long *out) {
  char buf[1024];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return false;
  buf[n] = 0;
  char state;
  return parse_stat(buf, &state, out);
}

/* The pin still names the attested thread (the per-request check). */
static bool pin_alive(const pal_fast_pin *p) {
  if (p->is_pidfd) return pal_pidfd_running(p->fd);
  unsigned long long st;
  return pal_fast_read_start_time(p->fd, &st) && st == p->start_time;
}

static size_t slot_of(pid_t pid, uid_t uid, gid_t gid) {
  uint64_t h = (uint64_t)(uint32_t)pid * 0x9E3779B97F4A7C15ull;
  h ^= ((uint64_t)uid << 17) ^ ((uint64_t)gid << 5);
  return (size_t)((h >> 23) % PAL_FAST_SLOTS);
}

/* The remembered caller in the slot of (pid, uid, gid), current and in its window at `now`; NULL
 * (and the slot forgotten if it went stale) otherwise. Lock held. */
static pal_fast_caller *current_caller(pal_fast *f, const struct fuse_ctx *ctx, uint64_t now) {
  if (!f->enabled || !f->callers) return NULL;
  pal_fast_caller *c = &f->callers[slot_of(ctx->pid, ctx->uid, ctx->gid)];
  if (!c->pin || c->pid != ctx->pid || c->uid != ctx->uid || c->gid != ctx->gid) return NULL;
  if (c->generation != f->generation || now >= c->expires_ns) {
    forget_caller(f, c);
    return NULL;
  }
  return c;
}

/* The caller this request comes from, still valid; NULL (and the slot forgotten if it went
 * stale) otherwise. Lock held on entry and return; released while the pin is checked: that check
 * is a syscall, and with the lock held through it the other workers queued behind it on most
 * requests (two futex calls per open with 2 workers). The pin is held by a reference meanwhile,
 * and the caller counts only if it is still current (current_caller: this generation, in its
 * window) with the same pin: then it is the very caller found before (a caller's generation never
 * changes, and a referenced pin is never another caller's), and its thread was alive after it was
 * found. */
static pal_fast_caller *valid_caller(pal_fast *f, const struct fuse_ctx *ctx) {
  /* One clock read for both looks: the request is judged at the moment it was looked at, the
   * window check after the pin's syscall included (a clock read costs ≈ 40 ns here, 4 a warm open). */
  uint64_t now = now_ns();
  pal_fast_caller *c = current_caller(f, ctx, now);
  if (!c) return NULL;
  pal_fast_pin *pin = c->pin;
  pin_ref(pin);
  pthread_mutex_unlock(&f->lock);
  bool alive = pin_alive(pin);
  pthread_mutex_lock(&f->lock);
  c = current_caller(f, ctx, now);
  bool same = c && c->pin == pin;
  pin_unref(pin); /* never the last while `same`: the caller holds its own */
  if (!same) return NULL;
  if (!alive) {
    atomic_fetch_add(&f->stats.gone_callers, 1);
    forget_caller(f, c);
    return NULL;
  }
  c->used = true;
  if (c->adopted) { /* its sponsor is in use through it: JS attests the sponsor again in time */
    pal_fast_caller *sp = &f->callers[c->sponsor_slot];
    if (sp->pin && sp->pid == c->sponsor_pid && sp->start_time == c->sponsor_start) sp->used = true;
  }
  return c;
}

/* What a first sight in C read of a process, while its pidfd held it (see_process). */
typedef struct {
  int pidfd;
  unsigned long long start_time;
  size_t cgroup_len;
  char cgroup[PAL_FAST_CGROUP_MAX];
} pal_first_sight;

/* Pins the thread `pid` by a pidfd and reads its stat and cgroup while it is held (the resolver's
 * pinned read, pidfd.h); false for a zombie, whose start time is no caller's (resolver.ts
 * readProcess), or when any step failed. */
static bool see_process(pid_t pid, pal_first_sight *s) {
  char stat[1024];
  ssize_t stat_len, cg_len;
  const char *step;
  s->pidfd =
      pal_pidfd_pin_read(pid, stat, sizeof stat, &stat_len, s->cgroup, sizeof s->cgroup, &cg_len, &step);
  if (s->pidfd < 0) return false;
  stat[stat_len] = 0;
  char state = 0;
  if (cg_len > 0 && parse_stat(stat, &state, &s->start_time) && state != 'Z' && state != 'X') {
    s->cgroup_len = (size_t)cg_len;
    return true;
  }
  close(s->pidfd);
  s->pidfd = -1;
  return false;
}

static uint64_t text_hash(const char *text, size_t len) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)text[i]) * 0x100000001b3ull;
  return h;
}

/* A sponsor usable for (uid, gid) now, with that cgroup text (NULL: any): vouched, current, in its
 * window. Lock held. Whether the sponsor itself is still alive does not matter: JS would attest a
 * new process of that container by its cached record the same way, a container's end bumps the
 * generation, and no process can be in a cgroup text of a container that is gone (the text names
 * the container's own cgroup, removed with it; a pid namespace whose init died takes no new
 * process). A sponsor past its window or generation is forgotten on the way, as valid_caller
 * forgets a caller: nothing can make it current again (same_caller refuses it), so the list holds
 * only callers that may still sponsor. */
static pal_fast_caller *sponsor_for(pal_fast *f, uid_t uid, gid_t gid, const char *cgroup, size_t len) {
  uint64_t now = now_ns();
  uint64_t hash = cgroup ? text_hash(cgroup, len) : 0;
  for (size_t i = 0; i < f->nsponsors;) {
    const struct pal_fast_sponsor *e = &f->sponsors[i];
    if (e->uid != uid || e->gid != gid || (cgroup && e->text_hash != hash)) {
      i++;
      continue;
    }
    pal_fast_caller *c = &f->callers[e->slot];
    if (c->generation != f->generation || now >= c->expires_ns) {
      forget_caller(f, c); /* drops entry i: the next one moved into it */
      continue;
    }
    if (c->pin && c->cgroup && (!cgroup || (c->cgroup_len == len && memcmp(c->cgroup, cgroup, len) == 0)))
      return c;
    i++;
  }
  return NULL;
}

/* Makes the process `s` read a caller adopted from `sp`: its own pin, the sponsor's window and
 * grants, the sponsor's leases shared (their handles are booked against the container, which is
 * the adopted caller's too). Lock held; takes over s->pidfd. NULL when out of memory. */
static pal_fast_caller *adopt(pal_fast *f, const struct fuse_ctx *ctx, pal_first_sight *s,
                              pal_fast_caller *sp) {
  pal_fast_pin *pin = pin_new(s->pidfd, true, s->start_time);
  if (!pin) return NULL;
  size_t slot = slot_of(ctx->pid, ctx->uid, ctx->gid);
  pal_fast_caller *c = &f->callers[slot];
  forget_caller(f, c);
  c->pin = pin;
  c->pid = ctx->pid;
  c->uid = ctx->uid;
  c->gid = ctx->gid;
  c->start_time = s->start_time;
  c->generation = sp->generation;
  c->expires_ns = sp->expires_ns;
  c->used = true;
  c->adopted = true;
  c->sponsor_slot = (size_t)(sp - f->callers);
  c->sponsor_pid = sp->pid;
  c->sponsor_start = sp->start_time;
  c->next_grant = sp->next_grant;
  for (size_t i = 0; i < PAL_FAST_GRANTS; i++) {
    c->grants[i] = sp->grants[i];
    pal_fast_lease *l = sp->grants[i].lease;
    c->grants[i].lease = l && !l->retired ? l : NULL;
    c->grants[i].shared = c->grants[i].lease != NULL;
    if (c->grants[i].lease) {
      l->refs++;
      l->holders++;
    }
  }
  sp->used = true;
  return c;
}

/* The caller this request comes from: remembered (valid_caller), or a process seen for the first
 * time whose cgroup text, uid and gid are a vouched sponsor's (adopted). Lock held on entry and
 * return; released while /proc is read. NULL: JS answers. */
static pal_fast_caller *caller_for(pal_fast *f, const struct fuse_ctx *ctx) {
  pal_fast_caller *c = valid_caller(f, ctx);
  if (c || !f->enabled || !f->callers || f->force_stat_pins || f->nsponsors == 0) return c;
  struct pal_fast_tried *t = &f->tried[slot_of(ctx->pid, ctx->uid, ctx->gid)];
  if (t->pid == ctx->pid && t->uid == ctx->uid && t->gid == ctx->gid && t->generation == f->generation)
    return NULL;
  if (!sponsor_for(f, ctx->uid, ctx->gid, NULL, 0)) return NULL;
  uint64_t generation = f->generation;
  pal_first_sight s;
  /* First one unpinned read of its cgroup text: a process of another container (most first
   * sights, when most containers run as root) is told by it alone, and goes on to JS without a
   * pidfd and a stat read it would pay twice (JS pins and reads it again). Only a match is read
   * again, pinned, and that read decides. */
  pthread_mutex_unlock(&f->lock);
  ssize_t first = pal_read_proc_file(ctx->pid, "cgroup", s.cgroup, sizeof s.cgroup);
  pthread_mutex_lock(&f->lock);
  bool candidate = first > 0 && f->generation == generation &&
                   sponsor_for(f, ctx->uid, ctx->gid, s.cgroup, (size_t)first) != NULL;
  pthread_mutex_unlock(&f->lock);
  bool seen = candidate && see_process(ctx->pid, &s);
  pthread_mutex_lock(&f->lock);
  if (!f->enabled || !f->callers || f->generation != generation) {
    if (seen) close(s.pidfd);
    return NULL;
  }
  c = valid_caller(f, ctx); /* JS or another worker filled it meanwhile */
  /* valid_caller lets go of the lock to check a pin: the sight must still be of this generation. */
  bool current = f->enabled && f->callers && f->generation == generation;
  pal_fast_caller *sp =
      c || !seen || !current ? NULL : sponsor_for(f, ctx->uid, ctx->gid, s.cgroup, s.cgroup_len);
  /* Its own slot may hold its sponsor: never evicted for it. */
  if (sp && sp == &f->callers[slot_of(ctx->pid, ctx->uid, ctx->gid)]) sp = NULL;
  if (sp) {
    c = adopt(f, ctx, &s, sp);
    if (c) atomic_fetch_add(&f->stats.adopted, 1);
    return c;
  }
  if (seen) close(s.pidfd);
  if (!c && current) {
    *t = (struct pal_fast_tried){.pid = ctx->pid, .uid = ctx->uid, .gid = ctx->gid, .generation = generation};
    atomic_fetch_add(&f->stats.unadopted, 1);
  }
  return c;
}

bool pal_fast_lookup(pal_fast *f, const struct fuse_ctx *ctx, const char *name, struct stat *attr) {
  bool hit = false;
  pthread_mutex_lock(&f->lock);
  pal_fast_caller *c = caller_for(f, ctx);
  for (size_t i = 0; c && !hit && i < PAL_FAST_GRANTS; i++) {
    if (c->grants[i].ino && strcmp(c->grants[i].name, name) == 0) {
      *attr = c->grants[i].attr;
      hit = true;
    }
  }
  pthread_mutex_unlock(&f->lock);
  atomic_fetch_add(hit ? &f->stats.lookup_hits : &f->stats.misses, 1);
  return hit;
}

bool pal_fast_getattr(pal_fast *f, const struct fuse_ctx *ctx, fuse_ino_t ino, struct stat *attr) {
  bool hit = false;
  pthread_mutex_lock(&f->lock);
  pal_fast_caller *c = caller_for(f, ctx);
  for (size_t i = 0; c && !hit && i < PAL_FAST_GRANTS; i++) {
    if (c->grants[i].ino == ino) {
      *attr = c->grants[i].attr;
      hit = true;
    }
  }
  pthread_mutex_unlock(&f->lock);
  atomic_fetch_add(hit ? &f->stats.getattr_hits : &f->stats.misses, 1);
  return hit;
}

/* Opens /proc/<pid>/stat and checks it names the process JS attested; -1 otherwise. */
static int pin_stat(pid_t pid, unsigned long long start_time) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  unsigned long long st;
  if (fd >= 0 && (!pal_fast_read_start_time(fd, &st) || st != start_time)) {
    close(fd);
    fd = -1;
  }
  return fd;
}

/* A pidfd for the thread `pid` when it is the one JS attested (*usable false: no pidfd to be had
 * here, pin it by its stat fd instead). The pidfd comes first: if the stat read after it shows the
 * attested start time and the pidfd is still alive after that read, the pidfd's thread held the
 * pid throughout the read, so it is the attested one (a reuse in between shows another start). */
static int pin_pidfd(pid_t pid, unsigned long long start_time, bool *usable) {
  int fd = pal_pidfd_open_thread(pid); /* a process pidfd before Linux 6.9 (leaders only) */
  /* Other failures (ENOSYS, EINVAL for a thread, EPERM from a sandbox): use the stat fd. An
   * unknown pid (ESRCH) is no process to pin at all. */
  *usable = fd >= 0 || errno == ESRCH;
  if (fd < 0) return -1;
  /* Checked before relying on it: a failure other than "exited" (ESRCH) means the stat fd. */
  if (!pal_pidfd_running(fd)) {
    *usable = errno == ESRCH;
    close(fd);
    return -1;
  }
  int stat_fd = pin_stat(pid, start_time);
  bool same = stat_fd >= 0 && pal_pidfd_running(fd);
  if (stat_fd >= 0) close(stat_fd);
  if (!same) {
    close(fd);
    fd = -1;
  }
  return fd;
}

/* Pins the thread JS attested into `c`; false when `pid` is not that thread now (or no memory). */
static bool pin_process(pal_fast *f, pal_fast_caller *c, pid_t pid, unsigned long long start_time) {
  bool usable = false;
  int fd = f->force_stat_pins ? -1 : pin_pidfd(pid, start_time, &usable);
  bool is_pidfd = fd >= 0;
  if (fd < 0 && !usable) fd = pin_stat(pid, start_time);
  if (fd < 0 || !(c->pin = pin_new(fd, is_pidfd, start_time))) return false;
  atomic_fetch_add(is_pidfd ? &f->stats.pidfd_pins : &f->stats.stat_pins, 1);
  return true;
}

static void add_grant(pal_fast *f, pal_fast_caller *c, const char *name, const struct stat *attr) {
  pal_fast_grant *g = NULL;
  for (size_t i = 0; !g && i < PAL_FAST_GRANTS; i++)
    if (c->grants[i].ino && strcmp(c->grants[i].name, name) == 0) g = &c->grants[i];
  if (!g) {
    g = &c->grants[c->next_grant++ % PAL_FAST_GRANTS]; /* oldest goes */
    retire_grant(f, g);
  } else if (g->ino != attr->st_ino) {
    retire_grant(f, g);
  }
  g->ino = attr->st_ino;
  g->attr = *attr;
  snprintf(g->name, sizeof g->name, "%s", name);
}

bool pal_fast_remember(pal_fast *f, const pal_fast_who *who, const char *name, const struct stat *attr) {
  bool usable = strlen(name) <= PAL_FAST_NAME_MAX && attr->st_ino != 0 && who->remaining_ms > 0;
  bool ok = false;
  pthread_mutex_lock(&f->lock);
  if (usable && f->enabled && f->callers && who->generation == f->generation) {
    pal_fast_caller *c = &f->callers[slot_of(who->pid, who->uid, who->gid)];
    bool same = c->pin && c->pid == who->pid && c->uid == who->uid && c->gid == who->gid &&
                c->start_time == who->start_time && c->generation == who->generation &&
                now_ns() < c->expires_ns;
    if (!same) {
      forget_caller(f, c);
      if (pin_process(f, c, who->pid, who->start_time)) {
        c->pid = who->pid;
        c->uid = who->uid;
        c->gid = who->gid;
        c->start_time = who->start_time;
        c->generation = who->generation;
        c->expires_ns = now_ns() + (uint64_t)(who->remaining_ms * 1e6);
        same = true;
      }
    }
    if (same) {
      add_grant(f, c, name, attr);
      ok = true;
    }
  }
  pthread_mutex_unlock(&f->lock);
  atomic_fetch_add(ok ? &f->stats.fills : &f->stats.refused_fills, 1);
  return ok;
}

/* The remembered caller `who` names, if it is that very process at that generation. Lock held. */
static pal_fast_caller *same_caller(pal_fast *f, const pal_fast_who *who) {
  if (!f->enabled || !f->callers || who->generation != f->generation || who->remaining_ms <= 0) return NULL;
  pal_fast_caller *c = &f->callers[slot_of(who->pid, who->uid, who->gid)];
  bool same = c->pin && c->pid == who->pid && c->uid == who->uid && c->gid == who->gid &&
              c->start_time == who->start_time && c->generation == who->generation &&
              now_ns() < c->expires_ns;
  return same ? c : NULL;
}

bool pal_fast_lease_open(pal_fast *f, const pal_fast_who *who, fuse_ino_t ino, uint64_t lease_id,
                         pal_secmem *content, const uint64_t *fhs, unsigned nfh, const char *audit_tail,
                         size_t audit_tail_len) {
  bool ok = false;
  if (nfh == 0 || nfh > PAL_FAST_LEASE_SLOTS || ino == 0) nfh = 0;
  pal_fast_lease *l = nfh ? calloc(1, sizeof *l) : NULL;
  if (l && audit_tail && audit_tail_len > 0 && audit_tail_len <= PAL_AUDIT_TAIL_MAX &&
      (l->audit_tail = malloc(audit_tail_len)) != NULL) { /* out of memory: JS writes the lines */
    memcpy(l->audit_tail, audit_tail, audit_tail_len);
    l->audit_tail_len = audit_tail_len;
  }
  pthread_mutex_lock(&f->lock);
  pal_fast_caller *c = l ? same_caller(f, who) : NULL;
  for (size_t i = 0; c && !ok && i < PAL_FAST_GRANTS; i++) {
    pal_fast_grant *g = &c->grants[i];
    if (g->ino != ino) continue;
    retire_grant(f, g);
    l->refs = 1;
    l->holders = 1;
    l->id = lease_id;
    l->content = content;
    l->nfree = nfh;
    /* Taken from the top: the first numbers booked are used first. */
    for (unsigned k = 0; k < nfh; k++) l->free_fh[k] = fhs[nfh - 1 - k];
    g->lease = l;
    ok = true;
  }
  pthread_mutex_unlock(&f->lock);
  if (!ok && l) {
    free(l->audit_tail);
    free(l);
  }
  atomic_fetch_add(ok ? &f->stats.leases : &f->stats.refused_leases, 1);
  return ok;
}

bool pal_fast_open(pal_fast *f, const struct fuse_ctx *ctx, fuse_ino_t ino, pal_fast_opened *out) {
  bool hit = false;
  pthread_mutex_lock(&f->lock);
  pal_fast_caller *c = caller_for(f, ctx);
  for (size_t i = 0; c && !hit && i < PAL_FAST_GRANTS; i++) {
    pal_fast_lease *l = c->grants[i].lease;
    if (c->grants[i].ino != ino || !l || l->retired || l->nfree == 0) continue;
    out->fh = l->free_fh[--l->nfree];
    l->opened++;
    out->lease = l;
    out->lease_id = l->id;
    out->content = l->content;
    l->refs++;
    pal_secmem_ref(l->content);
    hit = true;
  }
  pthread_mutex_unlock(&f->lock);
  if (hit) atomic_fetch_add(&f->stats.open_hits, 1);
  return hit;
}

bool pal_fast_release(pal_fast *f, pal_fast_lease *l, uint64_t fh) {
  pthread_mutex_lock(&f->lock);
  bool back = !l->retired && l->nfree < PAL_FAST_LEASE_SLOTS;
  if (back) l->free_fh[l->nfree++] = fh;
  lease_unref(l);
  pthread_mutex_unlock(&f->lock);
  return back;
}

void pal_fast_retire_leases(pal_fast *f) {
  pthread_mutex_lock(&f->lock);
  for (size_t i = 0; f->callers && i < PAL_FAST_SLOTS; i++)
    for (size_t k = 0; k < PAL_FAST_GRANTS; k++) retire_grant(f, &f->callers[i].grants[k]);
  pthread_mutex_unlock(&f->lock);
}

void pal_fast_expire(pal_fast *f) {
  pthread_mutex_lock(&f->lock);
  uint64_t now = now_ns();
  for (size_t i = 0; f->callers && i < PAL_FAST_SLOTS; i++) {
    pal_fast_caller *c = &f->callers[i];
    if (c->pin && (c->generation != f->generation || now >= c->expires_ns)) forget_caller(f, c);
  }
  pthread_mutex_unlock(&f->lock);
}

bool pal_fast_take_used(pal_fast *f, const pal_fast_who *who) {
  bool used = false;
  pthread_mutex_lock(&f->lock);
  if (f->enabled && f->callers) {
    pal_fast_caller *c = &f->callers[slot_of(who->pid, who->uid, who->gid)];
    if (c->pin && c->pid == who->pid && c->uid == who->uid && c->gid == who->gid &&
        c->start_time == who->start_time && c->generation == f->generation) {
      used = c->used;
      c->used = false;
    }
  }
  pthread_mutex_unlock(&f->lock);
  return used;
}

bool pal_fast_extend(pal_fast *f, const pal_fast_who *who) {
  pthread_mutex_lock(&f->lock);
  pal_fast_caller *c = same_caller(f, who);
  bool ok = c && pin_alive(c->pin);
  if (ok) {
    /* Never shortened: a standing sponsor's deadline (fast_path.h) outlasts the windows a refresh
     * of the same caller hands on. */
    uint64_t until = now_ns() + (uint64_t)(who->remaining_ms * 1e6);
    if (until > c->expires_ns) c->expires_ns = until;
  } else if (c) {
    atomic_fetch_add(&f->stats.gone_callers, 1);
    forget_caller(f, c);
  }
  pthread_mutex_unlock(&f->lock);
  atomic_fetch_add(ok ? &f->stats.extended : &f->stats.refused_extends, 1);
  return ok;
}

bool pal_fast_vouch(pal_fast *f, const pal_fast_who *who, const char *cgroup, size_t len) {
  if (len == 0 || len > PAL_FAST_CGROUP_MAX - 1) return false;
  char *text = malloc(len);
  if (!text) return false;
  memcpy(text, cgroup, len);
  pthread_mutex_lock(&f->lock);
  pal_fast_caller *c = same_caller(f, who);
  bool ok = c != NULL;
  if (ok && c->cgroup && (c->cgroup_len != len || memcmp(c->cgroup, text, len) != 0)) {
    ok = false; /* one process, two texts for one attestation: trust neither */
    free(c->cgroup);
    c->cgroup = NULL;
    drop_sponsor(f, (size_t)(c - f->callers));
  } else if (ok && !c->cgroup) {
    c->cgroup = text;
    c->cgroup_len = len;
    f->sponsors[f->nsponsors++] = (struct pal_fast_sponsor){
        .slot = (size_t)(c - f->callers), .uid = c->uid, .gid = c->gid, .text_hash = text_hash(text, len)};
    text = NULL;
  }
  pthread_mutex_unlock(&f->lock);
  free(text);
  if (ok) atomic_fetch_add(&f->stats.vouched, 1);
  return ok;
}

pal_fast_retired *pal_fast_take_retired(pal_fast *f) {
  pthread_mutex_lock(&f->lock);
  pal_fast_retired *r = f->retired;
  f->retired = NULL;
  f->retired_signalled = false;
  pthread_mutex_unlock(&f->lock);
  return r;
}

bool pal_fast_should_signal(pal_fast *f) {
  if (!atomic_load(&f->signal_due)) return false; /* nothing retired since the last answer */
  pthread_mutex_lock(&f->lock);
  atomic_store(&f->signal_due, false);
  bool signal = f->retired && !f->retired_signalled;
  if (signal) f->retired_signalled = true;
  pthread_mutex_unlock(&f->lock);
  return signal;
}
