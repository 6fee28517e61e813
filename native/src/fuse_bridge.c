/* FUSE bridge: a libfuse3 low-level session whose requests are answered by JavaScript.
 *
 * Who reads /dev/fuse (our own loop over fuse_session_receive_buf / fuse_session_process_buf,
 * so that unmount can stop the readers even while files stay open on a lazily detached mount):
 *   nthreads == 0: the JS thread, from a uv_poll on its event loop; requests that need JS are
 *                  dispatched on the spot, without a thread hop (the default: fastest here);
 *   nthreads  > 0: N worker threads; requests that need JS are queued on a
 *                  napi_threadsafe_function and the worker goes back to reading.
 * Either way no reader waits for JS: a slow reply for one caller never holds up another. JS
 * replies whenever it is ready by calling reply*() with the request handle (fuse_reply_* is
 * thread-safe). One notifier thread writes cache invalidations (see notifier_main).
 *
 * Served here without JS: opendir/releasedir (JS returns a whole listing; we page it), read of
 * handles opened with `content` (a pal_secmem: locked and possibly shared with other handles and
 * pald's cache, or a plain copy for non-secret content), flush, forget, release (JS is told afterwards),
 * and every writing operation (EROFS). Everything else libfuse answers ENOSYS. */
#define FUSE_USE_VERSION 314
#include "fuse_bridge.h"
#include "eof_gate.h"
#include "passthrough.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <linux/fuse.h>

#include "audit_line.h"
#include "fast_events.h"
#include "fast_path.h"
#include "fuse_io.h"
#include "mountinfo.h"
#include "napi_util.h"
#include "secure_buffer.h"

enum { OP_LOOKUP = 1, OP_GETATTR, OP_READDIR, OP_OPEN, OP_READ, OP_RELEASE, OP_STATFS };
/* The warm path's events (fast_events.h) reach JS in batches: OP_FAST_BATCH carries a Float64Array
 * of PAL_EVENT_FIELDS doubles per event. OP_FAST_ARM is internal (a worker asks the JS thread to
 * schedule a delivery) and never reaches JS. */
enum { OP_FAST_BATCH = 11, OP_FAST_ARM };
/* Longest an event waits before JS hears of it (at most the audit log's own 10 ms batching), and
 * how many make the JS thread deliver at once, at the end of a poll wakeup. 10 ms rather than 5:
 * each batch costs the JS thread a wakeup, a timer and the batch's fixed work, and halving their
 * number took ≈ 0.5–1 µs of its CPU off every warm open (docs/performance.md, seventeenth sitting). */
#define BATCH_DELAY_MS 10 /* the defaults; tests hold events longer (fastPathBatching) */
#define BATCH_AT_ONCE 256

typedef struct pal_mount pal_mount;

/* A directory handle: the listing JS returned at offset 0, paged out by later readdirs. */
typedef struct {
  atomic_int refs;
  pthread_mutex_t lock;
  fuse_ino_t ino;
  bool loaded;
  size_t count;
  char **names;
  fuse_ino_t *inos;
  mode_t *modes;
} pal_dir;

/* A file handle: what the kernel's fh points to. */
typedef struct {
  pal_secmem *content; /* served natively when set */
  uint64_t js_fh;
  pal_fast_lease *lease; /* opened in C from this lease (fast_path.c) */
  uint64_t lease_id;
  fuse_ino_t pt_ino; /* opened by passthrough (the kernel reads content itself): its inode */
} pal_fh;

typedef struct pal_req {
  pal_mount *m;
  fuse_req_t req; /* NULL once answered (or for notifications that need no answer) */
  int op;
  pid_t pid;
  uid_t uid;
  gid_t gid;
  fuse_ino_t ino;
  uint64_t js_fh;
  size_t size;
  off_t off;
  int flags;
  pal_dir *dir;
  char *name;
} pal_req;

typedef struct notify_item {
  struct notify_item *next;
  fuse_ino_t ino;
  char *name; /* NULL: inval_inode(ino); else inval_entry(ino, name) */
} notify_item;

struct pal_mount {
  pal_io_state io; /* first: the session I/O callbacks get the userdata as a pal_io_state */
  napi_env env;
  struct fuse_session *se;
  char *mountpoint;
  dev_t dev; /* of our mount, from mountinfo: so we never unmount somebody else's */
  bool dev_known;
  napi_threadsafe_function tsfn;
  napi_async_context async_ctx;
  int wake_fd;
  int nthreads; /* 0: requests are read on the JS thread's event loop (uv_poll), no workers */
  pthread_t *workers;
  pthread_t js_thread;
  napi_ref dispatch_ref;
  uv_poll_t poll;
  bool polling; /* poll handle initialised and not yet closed */
  bool in_poll; /* inside on_poll: the mount must not be freed under it */
  struct fuse_buf main_buf;
  atomic_bool stopping;
  bool workers_joined;
  bool notifier_joined;
  bool finished;           /* session destroyed */
  bool abandoned;          /* mount failed half-way: freed once the loop lets go */
  bool handle_collected;   /* the JS mount handle was garbage-collected */
  bool tsfn_done;          /* the threadsafe function was finalized */
  atomic_long outstanding; /* requests handed to JS and not answered yet */
  pthread_t notifier;
  pthread_mutex_t nlock;
  pthread_cond_t ncond;
  notify_item *nhead, *ntail;
  bool nstop;
  pal_eof_gates gates;        /* reads past a file's end held for the read of its end (eof_gate.c) */
  pal_pt_conn *pt_conn;       /* set when the mount asked for passthrough (passthrough.h) */
  pal_pt_inodes pt_inodes;    /* which content each inode's passthrough files read */
  atomic_ulong content_reads; /* READs answered from a handle's content (none for passthrough) */
  pal_mount *next_active;
  pal_fast fast; /* the warm path's decision cache (off unless JS turns it on) */
  atomic_bool fast_on;
  pal_event_queue events; /* what JS has still to hear of the warm path (fast_events.h) */
  uv_timer_t batch_timer; /* delivers a batch batch_delay_ms after its first event */
  uint64_t batch_delay_ms, batch_at_once;
  bool timer_open;   /* timer initialised and not yet closed */
  bool keep_mounted; /* handed over (or being taken over): never detach, the next pald resumes it */
};

/* Mounts of this process that are still mounted: for atexit and double-mount checks. */
static pthread_mutex_t g_active_lock = PTHREAD_MUTEX_INITIALIZER;
static pal_mount *g_active = NULL;
static bool g_atexit_registered = false;

/* ---------- requests to JS ---------- */

static void dir_unref(pal_dir *d) {
  if (!d || atomic_fetch_sub(&d->refs, 1) != 1) return;
  for (size_t i = 0; i < d->count; i++) free(d->names[i]);
  free(d->names);
  free(d->inos);
  free(d->modes);
  pthread_mutex_destroy(&d->lock);
  free(d);
}

static void free_req(pal_req *r) {
  dir_unref(r->dir);
  free(r->name);
  free(r);
}

static void maybe_finish(pal_mount *m);

/* Bookkeeping after a request got its answer. JS thread only. */
static void answered(pal_req *r) {
  r->req = NULL;
  pal_mount *m = r->m;
  if (atomic_fetch_sub(&m->outstanding, 1) == 1) maybe_finish(m);
}

static pal_req *new_req(pal_mount *m, fuse_req_t req, int op, fuse_ino_t ino) {
  pal_req *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  const struct fuse_ctx *ctx = fuse_req_ctx(req);
  r->m = m;
  r->req = req;
  r->op = op;
  r->ino = ino;
  r->pid = ctx->pid;
  r->uid = ctx->uid;
  r->gid = ctx->gid;
  return r;
}

/* Hands a request to the JS thread. Called on worker threads. */
static void call_js(napi_env env, napi_value js_cb, void *context, void *data);
static napi_value dispatcher(pal_mount *m);

static void to_js(pal_req *r) {
  pal_mount *m = r->m;
  if (r->op == OP_OPEN) pal_io_open_deferred(&m->io); /* JS answers it, maybe on another thread */
  if (r->op < 8) atomic_fetch_add(&m->fast.stats.to_js[r->op], 1);
  if (r->req) atomic_fetch_add(&m->outstanding, 1);
  if (m->nthreads == 0 && pthread_equal(pthread_self(), m->js_thread)) {
    /* Read on the JS thread's loop (on_poll): call the dispatcher right here. */
    call_js(m->env, dispatcher(m), m, r);
    return;
  }
  if (napi_call_threadsafe_function(m->tsfn, r, napi_tsfn_nonblocking) != napi_ok) {
    if (r->req) {
      fuse_reply_err(r->req, EIO);
      atomic_fetch_sub(&m->outstanding, 1);
    }
    free_req(r);
  }
}

/* GC of the request handle JS held. If JS dropped it unanswered, answer EIO so the caller does
 * not hang forever. */
static void finalize_req(napi_env env, void *data, void *hint) {
  pal_req *r = data;
  if (r->req) {
    fuse_reply_err(r->req, EIO);
    answered(r);
  }
  free_req(r);
}

static void deliver_events(pal_mount *m, napi_env env, napi_value js_cb);
static void schedule_events(pal_mount *m, napi_env env, napi_value js_cb);

static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  pal_req *r = data;
  pal_mount *m = context;
  if (env == NULL || js_cb == NULL) { /* torn down: nobody will answer */
    if (r->req) {
      fuse_reply_err(r->req, EIO);
      answered(r);
    }
    free_req(r);
    return;
  }
  if (r->op == OP_FAST_ARM) { /* a worker queued the first event of a batch */
    schedule_events(m, env, js_cb);
    free_req(r);
    return;
  }
  /* JS hears of what the warm path answered before the requests that came after it: the audit
   * lines keep their order, and a release answered in C counts before an open JS decides. */
  deliver_events(m, env, js_cb);
  napi_value argv[9], undef, result;
  napi_get_undefined(env, &undef);
  for (int i = 0; i < 9; i++) argv[i] = undef;
  napi_create_int32(env, r->op, &argv[0]);
  bool handle_made = false;
  if (r->req) {
    if (napi_create_external(env, r, finalize_req, NULL, &argv[1]) != napi_ok) {
      fuse_reply_err(r->req, EIO);
      answered(r);
      free_req(r);
      return;
    }
    handle_made = true;
  } else {
    napi_get_null(env, &argv[1]);
  }
  napi_create_int64(env, r->pid, &argv[2]);
  napi_create_uint32(env, r->uid, &argv[3]);
  napi_create_uint32(env, r->gid, &argv[4]);
  napi_create_double(env, (double)r->ino, &argv[5]);
  switch (r->op) {
    case OP_LOOKUP:
      napi_create_string_utf8(env, r->name, NAPI_AUTO_LENGTH, &argv[6]);
      break;
    case OP_OPEN:
      napi_create_int32(env, r->flags, &argv[6]);
      break;
    case OP_READ:
      napi_create_double(env, (double)r->js_fh, &argv[6]);
      napi_create_double(env, (double)r->size, &argv[7]);
      napi_create_double(env, (double)r->off, &argv[8]);
      break;
    case OP_RELEASE:
      napi_create_double(env, (double)r->js_fh, &argv[6]);
      break;
    default:
      break;
  }
  napi_value recv; /* napi_make_callback wants an object receiver */
  napi_get_global(env, &recv);
  napi_status st = napi_make_callback(env, m->async_ctx, recv, js_cb, 9, argv, &result);
  if (st != napi_ok) {
    /* The dispatcher catches handler errors itself; reaching here is a bug in it. Answer EIO and
     * surface the exception as uncaught rather than hide it. */
    if (r->req) {
      fuse_reply_err(r->req, EIO);
      answered(r);
    }
    napi_value exc;
    if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
  }
  if (!handle_made) free_req(r);
}

/* ---------- low-level operations (worker threads) ---------- */

static void op_init(void *userdata, struct fuse_conn_info *conn) {
  /* Nothing is written, so nothing needs write-back caching or splicing. */
  conn->want &=
      ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE | FUSE_CAP_SPLICE_READ);
}

/* The view's kernel cache timeouts (src/fs/attrs.ts): 0, each caller's view is asked afresh. */
#define VIEW_TIMEOUT_S 0.0

static bool on_js_thread(pal_mount *m) {
  return m->nthreads == 0 && pthread_equal(pthread_self(), m->js_thread);
}

static void on_batch_timer(uv_timer_t *t);

/* Arms the batch timer (JS thread), unless it runs already. */
static void arm_timer(pal_mount *m) {
  if (m->timer_open && !uv_is_closing((uv_handle_t *)&m->batch_timer) &&
      !uv_is_active((uv_handle_t *)&m->batch_timer))
    uv_timer_start(&m->batch_timer, on_batch_timer, m->batch_delay_ms, 0);
}

/* Queues an event of the warm path for JS (see "event batches" below). Out of memory, a release
 * or retirement is lost (its booked handle stays counted until the lease's owner is forgotten);
 * an open is never answered without room for its event (fast_open). */
static void fast_event(pal_mount *m, int kind, const struct fuse_ctx *ctx, fuse_ino_t ino, uint64_t fh,
                       uint64_t lease_id, int64_t arg, double time_ms, const char *line, size_t line_len) {
  pal_fast_event e = {.kind = kind, .ino = ino, .fh = fh, .lease = lease_id, .arg = arg, .time_ms = time_ms};
  if (ctx) {
    e.pid = ctx->pid;
    e.uid = ctx->uid;
    e.gid = ctx->gid;
  }
  if (pal_events_push(&m->events, &e, line, line_len) != PAL_EVENTS_FIRST) return;
  if (on_js_thread(m)) {
    if (!m->in_poll) arm_timer(m); /* in on_poll: its end schedules the delivery */
    return;
  }
  pal_req *r = calloc(1, sizeof *r); /* a worker: the JS thread arms the timer */
  if (!r) return;                    /* delivered with the next request or batch, or at unmount */
  r->m = m;
  r->op = OP_FAST_ARM;
  to_js(r);
}

/* A request handler may have retired leases (a caller went stale): JS takes them back. */
static void signal_retired(pal_mount *m) {
  if (pal_fast_should_signal(&m->fast)) fast_event(m, PAL_EVENT_RETIRED, NULL, 0, 0, 0, 0, 0, NULL, 0);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  pal_mount *m = fuse_req_userdata(req);
  struct fuse_entry_param e;
  if (parent == FUSE_ROOT_ID && atomic_load(&m->fast_on)) {
    memset(&e, 0, sizeof e);
    bool hit = pal_fast_lookup(&m->fast, fuse_req_ctx(req), name, &e.attr);
    signal_retired(m);
    if (hit) {
      e.ino = e.attr.st_ino;
      e.entry_timeout = e.attr_timeout = VIEW_TIMEOUT_S;
      fuse_reply_entry(req, &e);
      return;
    }
  }
  pal_req *r = new_req(m, req, OP_LOOKUP, parent);
  if (!r || !(r->name = strdup(name))) {
    if (r) free_req(r);
    fuse_reply_err(req, ENOMEM);
    return;
  }
  to_js(r);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) { fuse_reply_none(req); }

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets) {
  fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  pal_mount *m = fuse_req_userdata(req);
  struct stat st;
  if (ino != FUSE_ROOT_ID && atomic_load(&m->fast_on)) {
    bool hit = pal_fast_getattr(&m->fast, fuse_req_ctx(req), ino, &st);
    signal_retired(m);
    if (hit) {
      fuse_reply_attr(req, &st, VIEW_TIMEOUT_S);
      return;
    }
  }
  pal_req *r = new_req(m, req, OP_GETATTR, ino);
  if (!r) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  to_js(r);
}

static void release_fh(pal_mount *m, const struct fuse_ctx *ctx, fuse_ino_t ino, pal_fh *fh);

/* The backing an open of `ino` answered with `fh` can name (passthrough.h), 0 for none: the
 * session negotiated passthrough, the content is a registered memfd, and no passthrough file of
 * the inode reads other content. Notes the inode in fh, for its release. */
static int passthrough_for(pal_mount *m, fuse_ino_t ino, pal_fh *fh) {
  if (!fh->content || !m->pt_conn || !atomic_load(&m->io.passthrough)) return 0;
  int id = pal_pt_backing_id(m->pt_conn, fh->content);
  if (id == -EPERM) atomic_store(&m->io.passthrough, false); /* not negotiated on this session */
  if (id <= 0 || !pal_pt_inodes_acquire(&m->pt_inodes, ino, fh->content)) return 0;
  fh->pt_ino = ino;
  return id;
}

/* fuse_reply_open, naming the backing `id` (> 0) for passthrough. */
static int reply_open_with(fuse_req_t req, const struct fuse_file_info *fi, int id) {
  pal_io_next_open_backing(id);
  int rc = fuse_reply_open(req, fi);
  pal_io_next_open_backing(0);
  return rc;
}

static uint64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* An open replayed from a lease (fast_path.c): the same reply JS gives a secret (direct I/O, no
 * kept cache, no flush), the plaintext shared with the lease, and JS told afterwards (it writes
 * the audit line and counts the handle). False: not cached, JS decides. */
static bool fast_open(pal_mount *m, fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  /* Read-only opens only, as the view checks (src/fs/view.ts): anything else gets JS's answer. */
  if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) return false;
  uint64_t t0 = monotonic_ns();
  const struct fuse_ctx *ctxp = fuse_req_ctx(req);
  struct fuse_ctx ctx = *ctxp;
  /* First the room for its event: once a handle number is taken, JS must hear of it (the audit
   * line). With PAL_EVENTS_MAX opens queued, JS answers this one (and takes the queue first). */
  pal_fh *fh = calloc(1, sizeof *fh);
  bool room = fh && pal_events_reserve_open(&m->events);
  pal_fast_opened o;
  bool hit = room && pal_fast_open(&m->fast, &ctx, ino, &o);
  signal_retired(m);
  if (!hit) {
    if (room) pal_events_cancel_open(&m->events);
    free(fh);
    return false;
  }
  fh->content = o.content;
  fh->js_fh = o.fh;
  fh->lease = o.lease;
  fh->lease_id = o.lease_id;
  fi->fh = (uintptr_t)fh;
  fi->direct_io = 1;
  fi->keep_cache = 0;
  fi->noflush = 1;
  struct timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  double time_ms = (double)wall.tv_sec * 1e3 + (double)(wall.tv_nsec / 1000000); /* whole ms, as Date */
  int64_t latency_us = (int64_t)((monotonic_ns() - t0) / 1000);
  /* Its audit line, written here when JS gave the lease the line's constant part (the handle's
   * reference keeps the lease, and so the tail, alive). */
  char line[PAL_AUDIT_TAIL_MAX + PAL_AUDIT_LINE_EXTRA];
  size_t line_len = o.lease->audit_tail
                        ? pal_audit_line(line, sizeof line, time_ms, ctx.pid, o.lease->audit_tail,
                                         o.lease->audit_tail_len, latency_us)
                        : 0;
  /* Queued before the reply: the release (another worker may take it the moment the reply is
   * out) queues after it, so JS hears of the open first. */
  fast_event(m, PAL_EVENT_OPENED, &ctx, ino, o.fh, o.lease_id, latency_us, time_ms, line, line_len);
  bool delivered = reply_open_with(req, fi, passthrough_for(m, ino, fh)) == 0;
  if (!delivered) release_fh(m, &ctx, ino, fh); /* interrupted: no release will come, so we do */
  return true;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  pal_mount *m = fuse_req_userdata(req);
  if (ino != FUSE_ROOT_ID && atomic_load(&m->fast_on) && fast_open(m, req, ino, fi)) return;
  pal_req *r = new_req(m, req, OP_OPEN, ino);
  if (!r) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  r->flags = fi->flags;
  to_js(r);
}

/* Answers a READ with n bytes of data (n < size: the end), in the order eof_gate.c needs: a read
 * past the end may be held, a read that holds the end lets the held ones go. Any thread. */
static void reply_read(pal_mount *m, fuse_req_t req, fuse_ino_t ino, off_t off, size_t size, const void *data,
                       size_t n) {
  if (n == 0 && off >= 0 && pal_eof_gate_hold(&m->gates, ino, (uint64_t)off, req, monotonic_ns())) {
    pthread_mutex_lock(&m->nlock); /* the notifier answers it when its wait is over */
    pthread_cond_signal(&m->ncond);
    pthread_mutex_unlock(&m->nlock);
    return;
  }
  fuse_reply_buf(req, data, n);
  if (off >= 0) pal_eof_gate_answered(&m->gates, ino, (uint64_t)off, size);
}

static void reply_content(pal_mount *m, fuse_req_t req, fuse_ino_t ino, pal_secmem *mem, size_t size,
                          off_t off) {
  /* The kernel sends no release while a read is in flight, so the memory stays alive here. */
  if (!atomic_load(&mem->alive) || off < 0 || (size_t)off >= mem->length) {
    reply_read(m, req, ino, off, size, NULL, 0);
    return;
  }
  size_t n = mem->length - (size_t)off;
  if (n > size) n = size;
  reply_read(m, req, ino, off, size, (const char *)mem->data + off, n);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  pal_fh *fh = (pal_fh *)(uintptr_t)fi->fh;
  if (fh->content) {
    pal_mount *m = fuse_req_userdata(req);
    atomic_fetch_add_explicit(&m->content_reads, 1, memory_order_relaxed);
    reply_content(m, req, ino, fh->content, size, off);
    return;
  }
  pal_req *r = new_req(fuse_req_userdata(req), req, OP_READ, ino);
  if (!r) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  r->js_fh = fh->js_fh;
  r->size = size;
  r->off = off;
  to_js(r);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) { fuse_reply_err(req, 0); }

/* Drops the handle's reference to its content (the last holder's drop wipes it, now, not when JS
 * collects a handle object) and tells JS (which answers nothing: release needs no reply). */
static void release_fh(pal_mount *m, const struct fuse_ctx *ctx, fuse_ino_t ino, pal_fh *fh) {
  if (fh->pt_ino) pal_pt_inodes_release(&m->pt_inodes, fh->pt_ino);
  if (fh->content) pal_secmem_unref(fh->content);
  if (fh->lease) {
    bool back = pal_fast_release(&m->fast, fh->lease, fh->js_fh);
    fast_event(m, PAL_EVENT_RELEASED, ctx, ino, fh->js_fh, fh->lease_id, back, 0, NULL, 0);
    free(fh);
    return;
  }
  pal_req *r = calloc(1, sizeof *r);
  if (r) {
    r->m = m;
    r->op = OP_RELEASE;
    r->ino = ino;
    r->js_fh = fh->js_fh;
    if (ctx) {
      r->pid = ctx->pid;
      r->uid = ctx->uid;
      r->gid = ctx->gid;
    }
    to_js(r);
  }
  free(fh);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  pal_mount *m = fuse_req_userdata(req);
  struct fuse_ctx ctx = *fuse_req_ctx(req);
  fuse_reply_err(req, 0);
  release_fh(m, &ctx, ino, (pal_fh *)(uintptr_t)fi->fh);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  pal_dir *d = calloc(1, sizeof *d);
  if (!d) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  atomic_init(&d->refs, 1);
  pthread_mutex_init(&d->lock, NULL);
  d->ino = ino;
  fi->fh = (uintptr_t)d;
  if (fuse_reply_open(req, fi) != 0) dir_unref(d);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  dir_unref((pal_dir *)(uintptr_t)fi->fh);
  fuse_reply_err(req, 0);
}

/* Entry i of a listing: 0 is ".", 1 is "..", then JS's entries. Caller holds d->lock. */
static void reply_dir_page(fuse_req_t req, pal_dir *d, size_t size, off_t off) {
  size_t total = d->count + 2;
  if (off < 0 || (size_t)off >= total || size == 0) {
    fuse_reply_buf(req, NULL, 0);
    return;
  }
  char *buf = malloc(size);
  if (!buf) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  size_t pos = 0;
  for (size_t i = (size_t)off; i < total; i++) {
    struct stat st;
    memset(&st, 0, sizeof st);
    const char *name;
    if (i < 2) {
      name = i == 0 ? "." : "..";
      st.st_ino = d->ino;
      st.st_mode = S_IFDIR;
    } else {
      name = d->names[i - 2];
      st.st_ino = d->inos[i - 2];
      st.st_mode = d->modes[i - 2];
    }
    size_t need = fuse_add_direntry(req, buf + pos, size - pos, name, &st, (off_t)(i + 1));
    if (need > size - pos) break;
    pos += need;
  }
  fuse_reply_buf(req, buf, pos);
  free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  pal_dir *d = (pal_dir *)(uintptr_t)fi->fh;
  pthread_mutex_lock(&d->lock);
  if (off != 0 && d->loaded) { /* later pages come from the listing fetched at offset 0 */
    reply_dir_page(req, d, size, off);
    pthread_mutex_unlock(&d->lock);
    return;
  }
  pthread_mutex_unlock(&d->lock);
  pal_req *r = new_req(fuse_req_userdata(req), req, OP_READDIR, ino);
  if (!r) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  atomic_fetch_add(&d->refs, 1);
  r->dir = d;
  r->size = size;
  r->off = off;
  to_js(r);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino) {
  pal_req *r = new_req(fuse_req_userdata(req), req, OP_STATFS, ino);
  if (!r) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  to_js(r);
}

/* Every writing operation: the filesystem is read-only whatever the mount flags say. */
static void erofs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                          struct fuse_file_info *fi) {
  fuse_reply_err(req, EROFS);
}
static void erofs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
  fuse_reply_err(req, EROFS);
}
static void erofs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  fuse_reply_err(req, EROFS);
}
static void erofs_name(fuse_req_t req, fuse_ino_t parent, const char *name) { fuse_reply_err(req, EROFS); }
static void erofs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name) {
  fuse_reply_err(req, EROFS);
}
static void erofs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                         const char *newname, unsigned int flags) {
  fuse_reply_err(req, EROFS);
}
static void erofs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname) {
  fuse_reply_err(req, EROFS);
}
static void erofs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                        struct fuse_file_info *fi) {
  fuse_reply_err(req, EROFS);
}
static void erofs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
                           int flags) {
  fuse_reply_err(req, EROFS);
}
static void erofs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name) {
  fuse_reply_err(req, EROFS);
}
static void erofs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                         struct fuse_file_info *fi) {
  fuse_reply_err(req, EROFS);
}
static void erofs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                            struct fuse_file_info *fi) {
  fuse_reply_err(req, EROFS);
}
static void erofs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
                                  struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
                                  struct fuse_file_info *fi_out, size_t len, int flags) {
  fuse_reply_err(req, EROFS);
}

static const struct fuse_lowlevel_ops pal_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .open = op_open,
    .read = op_read,
    .flush = op_flush,
    .release = op_release,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .releasedir = op_releasedir,
    .statfs = op_statfs,
    .setattr = erofs_setattr,
    .mknod = erofs_mknod,
    .mkdir = erofs_mkdir,
    .unlink = erofs_name,
    .rmdir = erofs_name,
    .symlink = erofs_symlink,
    .rename = erofs_rename,
    .link = erofs_link,
    .write = erofs_write,
    .setxattr = erofs_setxattr,
    .removexattr = erofs_removexattr,
    .create = erofs_create,
    .fallocate = erofs_fallocate,
    .copy_file_range = erofs_copy_file_range,
};

/* ---------- threads ---------- */

static void *worker_main(void *arg) {
  pal_mount *m = arg;
  pthread_setname_np(pthread_self(), "pal-fuse"); /* for perf and /proc/<pid>/task/<tid>/comm */
  struct fuse_session *se = m->se;
  struct fuse_buf fbuf;
  memset(&fbuf, 0, sizeof fbuf);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return NULL;
  /* EPOLLEXCLUSIVE: one worker wakes per request instead of the whole pool. */
  struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.u32 = 0};
  struct epoll_event wv = {.events = EPOLLIN, .data.u32 = 1};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fuse_session_fd(se), &ev) != 0 ||
      epoll_ctl(ep, EPOLL_CTL_ADD, m->wake_fd, &wv) != 0) {
    close(ep);
    return NULL;
  }
  bool gone = false;
  while (!gone && !atomic_load(&m->stopping)) {
    struct epoll_event got[2];
    int n = epoll_wait(ep, got, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    bool readable = false;
    for (int i = 0; i < n; i++) {
      if (got[i].data.u32 == 1)
        gone = true; /* woken to stop */
      else if (got[i].events & EPOLLIN)
        readable = true;
      else if (got[i].events & (EPOLLERR | EPOLLHUP))
        gone = true; /* connection aborted */
    }
    while (readable && !gone && !atomic_load(&m->stopping)) {
      int res = fuse_session_receive_buf(se, &fbuf);
      if (res == -EINTR) continue;
      if (res == -EAGAIN) break;
      if (res <= 0) { /* -ENODEV: unmounted; 0: session exited */
        gone = true;
        break;
      }
      fuse_session_process_buf(se, &fbuf);
    }
  }
  if (gone) { /* let the other workers see it too */
    uint64_t one = 1;
    ssize_t w = write(m->wake_fd, &one, sizeof one);
    (void)w;
  }
  free(fbuf.mem);
  close(ep);
  return NULL;
}

/* nthreads == 0: the JS thread reads requests when libuv says /dev/fuse is readable. Requests
 * that need JS are dispatched without any thread hop; the rest are answered in C as usual. */
static void on_poll(uv_poll_t *handle, int status, int events) {
  pal_mount *m = handle->data;
  if (atomic_load(&m->stopping)) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(m->env, &scope) != napi_ok) return;
  m->in_poll = true;
  bool gone = status < 0;
  for (int i = 0; i < 64 && !gone && !atomic_load(&m->stopping); i++) {
    int res = fuse_session_receive_buf(m->se, &m->main_buf);
    if (res == -EINTR) continue;
    if (res == -EAGAIN) break;
    if (res <= 0)
      gone = true;
    else
      fuse_session_process_buf(m->se, &m->main_buf);
  }
  if (!atomic_load(&m->stopping)) schedule_events(m, m->env, dispatcher(m));
  m->in_poll = false;
  if (gone && m->polling) uv_poll_stop(&m->poll); /* connection aborted: nothing more to read */
  napi_close_handle_scope(m->env, scope);
}

/* ---------- event batches ----------
 * The warm path's events (an open answered from a lease, its close, retired leases) are queued
 * (fast_events.c) and JS hears of them in one call per batch: when a poll wakeup queued
 * BATCH_AT_ONCE or more, else BATCH_DELAY_MS after the first one (a timer on the JS thread's
 * loop; a worker asks the JS thread to arm it), and always before the next request JS answers
 * (call_js). JS takes what is left itself when the session stops (fastPathTakeEvents). */

static napi_value dispatcher(pal_mount *m) {
  napi_value cb = NULL;
  if (!m->dispatch_ref || napi_get_reference_value(m->env, m->dispatch_ref, &cb) != napi_ok) return NULL;
  return cb;
}

/* The queued events as a Float64Array (PAL_EVENT_FIELDS per event), or NULL when none; *text_out:
 * the audit lines the addon wrote for them, a Buffer (null when none). */
static napi_value take_events(pal_mount *m, napi_env env, napi_value *text_out) {
  pal_fast_event *events;
  char *text;
  size_t text_len;
  napi_get_null(env, text_out);
  size_t n = pal_events_take(&m->events, &events, &text, &text_len);
  if (n == 0) return NULL;
  void *data;
  napi_value ab, arr = NULL;
  size_t len = n * PAL_EVENT_FIELDS;
  if (napi_create_arraybuffer(env, len * sizeof(double), &data, &ab) == napi_ok &&
      napi_create_typedarray(env, napi_float64_array, len, ab, 0, &arr) == napi_ok) {
    pal_events_flatten(events, n, data);
    void *copy;
    /* No memory for the lines: JS writes them itself (each event's line bytes set to 0). */
    if (text_len > 0 && napi_create_buffer_copy(env, text_len, text, &copy, text_out) != napi_ok) {
      napi_get_null(env, text_out);
      for (size_t i = 0; i < n; i++) ((double *)data)[i * PAL_EVENT_FIELDS + PAL_EVENT_LINE_FIELD] = 0;
    }
  } else {
    arr = NULL; /* lost: JS cannot be told (no memory for the array) */
  }
  free(events);
  free(text);
  return arr;
}

/* JS thread: one call to the dispatcher with everything queued. */
static void deliver_events(pal_mount *m, napi_env env, napi_value js_cb) {
  if (m->timer_open && !uv_is_closing((uv_handle_t *)&m->batch_timer)) uv_timer_stop(&m->batch_timer);
  if (!js_cb || pal_events_pending(&m->events) == 0) return;
  napi_value text;
  napi_value arr = take_events(m, env, &text);
  if (!arr) return;
  napi_value argv[8], zero, op, recv, result;
  napi_create_int32(env, 0, &zero);
  napi_create_int32(env, OP_FAST_BATCH, &op);
  napi_get_null(env, &argv[1]);
  argv[0] = op;
  for (int i = 2; i < 6; i++) argv[i] = zero;
  argv[6] = arr;
  argv[7] = text;
  napi_get_global(env, &recv);
  if (napi_make_callback(env, m->async_ctx, recv, js_cb, 8, argv, &result) != napi_ok) {
    napi_value exc; /* the dispatcher catches handler errors: reaching here is a bug in it */
    if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
  }
}

/* JS thread: deliver now if many are queued, else arm the timer. */
static void schedule_events(pal_mount *m, napi_env env, napi_value js_cb) {
  size_t n = pal_events_pending(&m->events);
  if (n >= m->batch_at_once)
    deliver_events(m, env, js_cb);
  else if (n > 0)
    arm_timer(m);
}

static void on_batch_timer(uv_timer_t *t) {
  pal_mount *m = t->data;
  napi_handle_scope scope;
  if (atomic_load(&m->stopping) || napi_open_handle_scope(m->env, &scope) != napi_ok) return;
  bool nested = m->in_poll;
  m->in_poll = true; /* the mount must not be freed under us */
  deliver_events(m, m->env, dispatcher(m));
  m->in_poll = nested;
  napi_close_handle_scope(m->env, scope);
}

static void on_timer_closed(uv_handle_t *handle) {
  pal_mount *m = handle->data;
  m->timer_open = false;
  maybe_finish(m);
}

static void on_poll_closed(uv_handle_t *handle) {
  pal_mount *m = handle->data;
  m->polling = false;
  maybe_finish(m);
}

/* Invalidations run here, never on the JS thread: the kernel takes the parent directory's lock
 * for inval_entry, and a lookup waiting for a JS reply holds it shared; writing the notification
 * from the JS thread would deadlock on that lookup. */
static void *notifier_main(void *arg) {
  pal_mount *m = arg;
  pthread_setname_np(pthread_self(), "pal-notify");
  pthread_mutex_lock(&m->nlock);
  for (;;) {
    while (!m->nhead && !m->nstop) {
      /* Held reads are answered here when their wait is over. The gate lock nests inside nlock, and
       * a thread that holds a read signals under nlock: it cannot signal between this look and the
       * wait. ncond runs on CLOCK_MONOTONIC (new_mount). */
      uint64_t next = pal_eof_gates_expire(&m->gates, monotonic_ns());
      if (next == 0) {
        pthread_cond_wait(&m->ncond, &m->nlock);
      } else {
        struct timespec until = {.tv_sec = (time_t)(next / 1000000000u),
                                 .tv_nsec = (long)(next % 1000000000u)};
        pthread_cond_timedwait(&m->ncond, &m->nlock, &until);
      }
    }
    notify_item *it = m->nhead;
    if (!it) break; /* stop requested and queue drained */
    m->nhead = it->next;
    if (!m->nhead) m->ntail = NULL;
    bool skip = m->nstop;
    pthread_mutex_unlock(&m->nlock);
    if (!skip) {
      if (it->name)
        fuse_lowlevel_notify_inval_entry(m->se, it->ino, it->name, strlen(it->name));
      else
        fuse_lowlevel_notify_inval_inode(m->se, it->ino, 0, 0);
    }
    free(it->name);
    free(it);
    pthread_mutex_lock(&m->nlock);
  }
  pthread_mutex_unlock(&m->nlock);
  pal_eof_gates_close(&m->gates); /* before the session goes: it must answer what is held */
  return NULL;
}

static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg) {
  /* Signals belong to Node's main thread; our threads never take them. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int rc = pthread_create(t, NULL, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return rc;
}

/* ---------- lifecycle ---------- */

static void remove_active(pal_mount *m) {
  pthread_mutex_lock(&g_active_lock);
  for (pal_mount **p = &g_active; *p; p = &(*p)->next_active) {
    if (*p == m) {
      *p = m->next_active;
      break;
    }
  }
  pthread_mutex_unlock(&g_active_lock);
}

/* Detach our mount from the namespace, if it is still the one on top at the mountpoint. */
static void detach_mount(pal_mount *m) {
  if (m->keep_mounted) return;
  dev_t dev;
  char type[256];
  if (m->dev_known && pal_top_mount_at(m->mountpoint, &dev, type, sizeof type) && dev == m->dev)
    umount2(m->mountpoint, MNT_DETACH);
}

static void cleanup_hook(void *arg);

/* What unmount and the environment teardown share: no more reading, our mount detached, the
 * workers joined, the notifier told to stop. Never waits for JS. */
static void halt_session(pal_mount *m) {
  remove_active(m);
  fuse_session_exit(m->se);
  detach_mount(m);
  uint64_t one = 1;
  ssize_t w = write(m->wake_fd, &one, sizeof one);
  (void)w;
  for (int i = 0; i < m->nthreads; i++) pthread_join(m->workers[i], NULL);
  m->workers_joined = true;
  pthread_mutex_lock(&m->nlock);
  m->nstop = true;
  pthread_cond_signal(&m->ncond);
  pthread_mutex_unlock(&m->nlock);
}

/* First half of unmount, on the JS thread: nothing here waits for JS. */
static void stop_mount(pal_mount *m) {
  if (atomic_exchange(&m->stopping, true)) return;
  napi_remove_env_cleanup_hook(m->env, cleanup_hook, m);
  halt_session(m);
  if (m->polling && !uv_is_closing((uv_handle_t *)&m->poll)) {
    uv_poll_stop(&m->poll);
    uv_close((uv_handle_t *)&m->poll, on_poll_closed);
  }
  /* Events still queued stay for JS to take (fastPathTakeEvents) once unmount resolves. */
  if (m->timer_open && !uv_is_closing((uv_handle_t *)&m->batch_timer))
    uv_close((uv_handle_t *)&m->batch_timer, on_timer_closed);
}

static void free_mount(pal_mount *m) {
  pal_io_destroy(&m->io);
  pal_pt_inodes_destroy(&m->pt_inodes);
  pal_pt_conn_unref(m->pt_conn);
  pal_eof_gates_destroy(&m->gates);
  pal_fast_destroy(&m->fast);
  pal_events_destroy(&m->events);
  free(m->mountpoint);
  free(m);
}

/* The threadsafe function is gone: every queued request and release notification was delivered. */
static void on_tsfn_finalized(napi_env env, void *data, void *hint) {
  pal_mount *m = data;
  m->tsfn_done = true;
  maybe_finish(m);
}

/* GC of the JS mount handle: free the struct if the session is already gone, else let
 * maybe_finish do it. */
static void finalize_mount_handle(napi_env env, void *data, void *hint) {
  pal_mount *m = data;
  m->handle_collected = true;
  if (m->finished) free_mount(m);
}

/* Destroys the session once workers and notifier are gone and JS has answered everything. A
 * mount that failed half-way (abandoned) goes once the threadsafe function and the poll handle,
 * which the event loop owns, have let go of it. */
static void maybe_finish(pal_mount *m) {
  if (m->abandoned) {
    if (!m->tsfn_done || m->polling || m->timer_open) return;
    fuse_session_destroy(m->se);
    if (m->wake_fd >= 0) close(m->wake_fd);
    pthread_mutex_destroy(&m->nlock);
    pthread_cond_destroy(&m->ncond);
    free(m->workers);
    free_mount(m);
    return;
  }
  if (m->finished || !m->workers_joined || !m->notifier_joined || !m->tsfn_done || m->polling || m->in_poll ||
      m->timer_open)
    return;
  if (atomic_load(&m->outstanding) != 0) return;
  m->finished = true;
  if (m->dispatch_ref) napi_delete_reference(m->env, m->dispatch_ref);
  free(m->main_buf.mem);
  fuse_session_destroy(m->se); /* closes /dev/fuse: aborts the connection if files stay open */
  m->se = NULL;
  close(m->wake_fd);
  if (m->async_ctx) napi_async_destroy(m->env, m->async_ctx);
  m->async_ctx = NULL;
  pthread_mutex_destroy(&m->nlock);
  pthread_cond_destroy(&m->ncond);
  free(m->workers);
  /* JS may still hold the mount handle (and call invalidate* on it): the struct itself goes when
   * that handle is collected. */
  if (m->handle_collected) free_mount(m);
}

/* Environment teardown (Node exiting without unmount): detach, stop threads, no JS. */
static void cleanup_hook(void *arg) {
  pal_mount *m = arg;
  if (atomic_exchange(&m->stopping, true)) return;
  /* The notifier may wait on a kernel lock that only a (now impossible) JS reply frees: it is
   * told to stop, not joined. */
  halt_session(m);
  /* Close the poll handle so the loop can close; the mount itself is left to the exiting process. */
  if (m->polling && !uv_is_closing((uv_handle_t *)&m->poll)) uv_close((uv_handle_t *)&m->poll, NULL);
  if (m->timer_open && !uv_is_closing((uv_handle_t *)&m->batch_timer))
    uv_close((uv_handle_t *)&m->batch_timer, NULL);
}

/* exit() without the env teardown (process.exit, uncaught exception): at least detach the
 * mounts so no stale mount is left behind. */
static void atexit_detach(void) {
  if (pthread_mutex_trylock(&g_active_lock) != 0) return;
  for (pal_mount *m = g_active; m; m = m->next_active) {
    atomic_store(&m->stopping, true);
    detach_mount(m);
  }
  pthread_mutex_unlock(&g_active_lock);
}

/* ---------- JS API ---------- */

static pal_mount *get_mount(napi_env env, napi_value v) {
  pal_mount *m = NULL;
  if (napi_get_value_external(env, v, (void **)&m) != napi_ok || !m) {
    pal_throw(env, "ERR_PAL_ARGS", 0, "not a mount handle");
    return NULL;
  }
  return m;
}

static pal_req *take_req(napi_env env, napi_value v) {
  pal_req *r = NULL;
  if (napi_get_value_external(env, v, (void **)&r) != napi_ok || !r) {
    pal_throw(env, "ERR_PAL_ARGS", 0, "not a request handle");
    return NULL;
  }
  if (!r->req) {
    pal_throw(env, "ERR_PAL_ALREADY_REPLIED", 0, "request was already answered");
    return NULL;
  }
  return r;
}

/* Seven positional arguments ino, mode, nlink, uid, gid, size, mtimeMs -> struct stat.
 * (Positional rather than an object: no property lookups by name on every reply.) */
static bool read_attr(napi_env env, const napi_value *args, struct stat *st) {
  static const char *keys[] = {"ino", "mode", "nlink", "uid", "gid", "size", "mtimeMs"};
  double vals[7];
  for (int i = 0; i < 7; i++) {
    if (!pal_arg_double(env, args[i], keys[i], &vals[i])) return false;
    if (i < 6 && (vals[i] < 0 || vals[i] > 9007199254740991.0)) {
      pal_throw(env, "ERR_PAL_ARGS", 0, "attr.%s out of range", keys[i]);
      return false;
    }
  }
  memset(st, 0, sizeof *st);
  st->st_ino = (ino_t)vals[0];
  st->st_mode = (mode_t)vals[1];
  st->st_nlink = (nlink_t)vals[2];
  st->st_uid = (uid_t)vals[3];
  st->st_gid = (gid_t)vals[4];
  st->st_size = (off_t)vals[5];
  st->st_blksize = 4096;
  st->st_blocks = (st->st_size + 511) / 512;
  double ms = vals[6];
  struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
                        .tv_nsec = (long)((ms - (double)(time_t)(ms / 1000) * 1000) * 1e6)};
  if (ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) ts.tv_nsec = 0;
  st->st_atim = st->st_mtim = st->st_ctim = ts;
  return true;
}

static bool read_timeout(napi_env env, napi_value v, const char *name, double *out) {
  if (!pal_arg_double(env, v, name, out)) return false;
  if (*out < 0) {
    pal_throw(env, "ERR_PAL_ARGS", 0, "%s must be >= 0", name);
    return false;
  }
  return true;
}

/* replyEntry(req, ino, mode, nlink, uid, gid, size, mtimeMs, entryTimeout, attrTimeout) */
static napi_value reply_entry(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  if (!pal_get_args(env, info, 10, argv)) return NULL;
  pal_req *r = take_req(env, argv[0]);
  if (!r) return NULL;
  struct fuse_entry_param e;
  memset(&e, 0, sizeof e);
  if (!read_attr(env, argv + 1, &e.attr) || !read_timeout(env, argv[8], "entryTimeout", &e.entry_timeout) ||
      !read_timeout(env, argv[9], "attrTimeout", &e.attr_timeout))
    return NULL;
  if (e.attr.st_ino == 0 || e.attr.st_ino == FUSE_ROOT_ID) {
    pal_throw(env, "ERR_PAL_ARGS", 0, "lookup must answer an inode other than 0 and 1");
    return NULL;
  }
  e.ino = e.attr.st_ino;
  fuse_reply_entry(r->req, &e);
  answered(r);
  return NULL;
}

/* replyAttr(req, ino, mode, nlink, uid, gid, size, mtimeMs, attrTimeout) */
static napi_value reply_attr(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  if (!pal_get_args(env, info, 9, argv)) return NULL;
  pal_req *r = take_req(env, argv[0]);
  if (!r) return NULL;
  struct stat st;
  double timeout;
  if (!read_attr(env, argv + 1, &st) || !read_timeout(env, argv[8], "attrTimeout", &timeout)) return NULL;
  st.st_ino = r->ino; /* the kernel asked about this inode; never claim another */
  fuse_reply_attr(r->req, &st, timeout);
  answered(r);
  return NULL;
}

/* replyErr(req, errno) */
static napi_value reply_err(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t e;
  if (!pal_get_args(env, info, 2, argv)) return NULL;
  pal_req *r = take_req(env, argv[0]);
  if (!r || !pal_arg_i64(env, argv[1], "errno", &e)) return NULL;
  if (e <= 0 || e > 4095) e = EIO; /* 0 would mean success, which is not an error reply */
  fuse_reply_err(r->req, (int)e);
  answered(r);
  return NULL;
}

/* replyBuf(req, Uint8Array) */
static napi_value reply_buf(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!pal_get_args(env, info, 2, argv)) return NULL;
  pal_req *r = take_req(env, argv[0]);
  if (!r) return NULL;
  bool is_ta = false;
  napi_typedarray_type type;
  size_t len = 0;
  void *data = NULL;
  napi_is_typedarray(env, argv[1], &is_ta);
  if (!is_ta || napi_get_typedarray_info(env, argv[1], &type, &len, &data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    pal_throw(env, "ERR_PAL_ARGS", 0, "read reply must be a Uint8Array");
    return NULL;
  }
  if (r->op == OP_READ) {
    if (len > r->size) len = r->size; /* never more than the kernel asked */
    reply_read(r->m, r->req, r->ino, r->off, r->size, data, len);
  } else {
    fuse_reply_buf(r->req, data, len);
  }
  answered(r);
  return NULL;
}

/* replyOpen(req, fh, directIo, keepCache, content, trueSize) -> true if the kernel took it; false
 * means the open was interrupted: the handle is already released (its reference to the content
 * dropped). content: null (reads go to JS), a SecureBuffer handle (its reference moves to the file
 * handle), or a Uint8Array of non-secret bytes (copied into ordinary, unlocked memory). trueSize:
 * null, or the file's size when the kernel was told more (a bound): reads past it then wait for
 * the read of its end (eof_gate.c). */
static napi_value reply_open(napi_env env, napi_callback_info info) {
  napi_value argv[6], out;
  uint64_t js_fh, true_size = 0;
  bool direct_io, keep_cache;
  if (!pal_get_args(env, info, 6, argv)) return NULL;
  napi_valuetype size_type;
  napi_typeof(env, argv[5], &size_type);
  bool bounded = size_type != napi_null && size_type != napi_undefined;
  pal_req *r = take_req(env, argv[0]);
  if (!r || !pal_arg_u64(env, argv[1], "fh", &js_fh) || !pal_arg_bool(env, argv[2], &direct_io) ||
      !pal_arg_bool(env, argv[3], &keep_cache) ||
      (bounded && !pal_arg_u64(env, argv[5], "trueSize", &true_size)))
    return NULL;
  napi_valuetype t;
  napi_typeof(env, argv[4], &t);
  pal_fh *fh = calloc(1, sizeof *fh);
  if (!fh) {
    pal_throw(env, "ERR_PAL_NOMEM", ENOMEM, "out of memory");
    return NULL;
  }
  fh->js_fh = js_fh;
  bool is_bytes = false;
  napi_is_typedarray(env, argv[4], &is_bytes);
  if (is_bytes) {
    napi_typedarray_type type;
    size_t len = 0;
    void *src = NULL;
    if (napi_get_typedarray_info(env, argv[4], &type, &len, &src, NULL, NULL) != napi_ok ||
        type != napi_uint8_array) {
      free(fh);
      pal_throw(env, "ERR_PAL_ARGS", 0, "content must be a SecureBuffer or a Uint8Array");
      return NULL;
    }
    fh->content = pal_secmem_plain_copy(src, len);
    if (!fh->content) {
      free(fh);
      pal_throw(env, "ERR_PAL_NOMEM", ENOMEM, "out of memory");
      return NULL;
    }
  } else if (t != napi_null && t != napi_undefined) {
    fh->content = pal_secure_buffer_take(env, argv[4]);
    if (!fh->content) {
      free(fh);
      return NULL;
    }
  }
  struct fuse_file_info fi;
  memset(&fi, 0, sizeof fi);
  fi.fh = (uintptr_t)fh;
  fi.direct_io = direct_io;
  fi.keep_cache = keep_cache;
  fi.noflush = 1; /* read-only, no locks: close() need not cost a FLUSH round trip */
  fi.flags = r->flags;
  int backing = passthrough_for(r->m, r->ino, fh);
  /* Armed before the reply: the kernel may send the first READ the moment it has the open. A
   * passthrough file sends none: the kernel reads the content, whose size is exact. */
  if (bounded && !backing) pal_eof_gate_arm(&r->m->gates, r->ino, true_size, monotonic_ns());
  bool delivered = reply_open_with(r->req, &fi, backing) == 0;
  pal_mount *m = r->m;
  answered(r);
  if (!delivered) {
    if (fh->pt_ino) pal_pt_inodes_release(&m->pt_inodes, fh->pt_ino);
    if (fh->content) pal_secmem_unref(fh->content);
    free(fh);
  }
  napi_get_boolean(env, delivered, &out);
  return out;
}

/* replyDir(req, names[], inos[], modes[]) */
static napi_value reply_dir(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!pal_get_args(env, info, 4, argv)) return NULL;
  pal_req *r = take_req(env, argv[0]);
  if (!r) return NULL;
  if (r->op != OP_READDIR || !r->dir) {
    pal_throw(env, "ERR_PAL_ARGS", 0, "replyDir answers readdir requests only");
    return NULL;
  }
  uint32_t n = 0, n2 = 0, n3 = 0;
  if (napi_get_array_length(env, argv[1], &n) != napi_ok ||
      napi_get_array_length(env, argv[2], &n2) != napi_ok ||
      napi_get_array_length(env, argv[3], &n3) != napi_ok || n != n2 || n != n3) {
    pal_throw(env, "ERR_PAL_ARGS", 0, "replyDir: names, inos and modes must be arrays of one length");
    return NULL;
  }
  char **names = calloc(n ? n : 1, sizeof *names);
  fuse_ino_t *inos = calloc(n ? n : 1, sizeof *inos);
  mode_t *modes = calloc(n ? n : 1, sizeof *modes);
  size_t kept = 0;
  bool ok = names && inos && modes;
  for (uint32_t i = 0; ok && i < n; i++) {
    napi_value jn, ji, jm;
    uint64_t ino, mode;
    size_t len;
    ok = napi_get_element(env, argv[1], i, &jn) == napi_ok &&
         napi_get_element(env, argv[2], i, &ji) == napi_ok &&
         napi_get_element(env, argv[3], i, &jm) == napi_ok;
    if (!ok) break;
    char *name = pal_arg_string(env, jn, "name", &len);
    if (!name || !pal_arg_u64(env, ji, "ino", &ino) || !pal_arg_u64(env, jm, "mode", &mode)) {
      free(name);
      ok = false;
      break;
    }
    /* "." and ".." are ours; a name with '/' or over NAME_MAX can never be looked up. */
    if (len == 0 || len > 255 || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
      free(name);
      continue;
    }
    names[kept] = name;
    inos[kept] = ino;
    modes[kept] = (mode_t)mode;
    kept++;
  }
  if (!ok) {
    for (size_t i = 0; i < kept; i++) free(names[i]);
    free(names);
    free(inos);
    free(modes);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) pal_throw(env, "ERR_PAL_NOMEM", ENOMEM, "out of memory");
    return NULL;
  }
  pal_dir *d = r->dir;
  pthread_mutex_lock(&d->lock);
  for (size_t i = 0; i < d->count; i++) free(d->names[i]);
  free(d->names);
  free(d->inos);
  free(d->modes);
  d->names = names;
  d->inos = inos;
  d->modes = modes;
  d->count = kept;
  d->loaded = true;
  reply_dir_page(r->req, d, r->size, r->off);
  pthread_mutex_unlock(&d->lock);
  answered(r);
  return NULL;
}

/* replyStatfs(req, blocks, files, nameMax) */
static napi_value reply_statfs(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  uint64_t blocks, files, name_max;
  if (!pal_get_args(env, info, 4, argv)) return NULL;
  pal_req *r = take_req(env, argv[0]);
  if (!r || !pal_arg_u64(env, argv[1], "blocks", &blocks) || !pal_arg_u64(env, argv[2], "files", &files) ||
      !pal_arg_u64(env, argv[3], "nameMax", &name_max))
    return NULL;
  struct statvfs sv;
  memset(&sv, 0, sizeof sv);
  sv.f_bsize = 4096;
  sv.f_frsize = 4096;
  sv.f_blocks = blocks;
  sv.f_files = files;
  sv.f_namemax = name_max;
  fuse_reply_statfs(r->req, &sv);
  answered(r);
  return NULL;
}

/* True when this process serves a mount at `path` already. */
static bool mounted_here(const char *path) {
  bool ours = false;
  pthread_mutex_lock(&g_active_lock);
  for (pal_mount *m = g_active; m && !ours; m = m->next_active) ours = strcmp(m->mountpoint, path) == 0;
  pthread_mutex_unlock(&g_active_lock);
  return ours;
}

/* Validates a mountpoint: not ours already, dead mounts on it cleared, a directory with no live
 * FUSE mount. Returns it as /proc/self/mountinfo will show it (symlinks resolved: unmount finds
 * our mount by it; resolved now, because afterwards resolving it would ask ourselves), or NULL
 * with an exception pending. */
static char *usable_mountpoint(napi_env env, const char *path) {
  if (mounted_here(path)) {
    pal_throw(env, "ERR_PAL_MOUNT", EBUSY, "%s is already mounted by this process", path);
    return NULL;
  }
  int cleared = pal_clear_stale(path);
  if (cleared < 0) {
    pal_throw(env, "ERR_PAL_MOUNT", -cleared, "mountpoint %s: %s", path, strerror(-cleared));
    return NULL;
  }
  char *real = realpath(path, NULL);
  if (!real) {
    int e = errno;
    pal_throw(env, "ERR_PAL_MOUNT", e, "mountpoint %s: %s", path, strerror(e));
    return NULL;
  }
  struct stat st;
  dev_t dev;
  char type[256];
  if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
    pal_throw(env, "ERR_PAL_MOUNT", ENOTDIR, "mountpoint %s is not a directory", real);
  else if (pal_top_mount_at(real, &dev, type, sizeof type) && strncmp(type, "fuse", 4) == 0)
    pal_throw(env, "ERR_PAL_MOUNT", EBUSY,
              "%s already has a live FUSE mount (%s); another daemon is serving it", real, type);
  else
    return real;
  free(real);
  return NULL;
}

static pal_mount *new_mount(napi_env env, int nthreads) {
  pal_mount *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->workers = calloc(nthreads ? nthreads : 1, sizeof *m->workers);
  if (!m->workers) {
    free(m);
    return NULL;
  }
  m->env = env;
  m->nthreads = nthreads;
  m->wake_fd = -1;
  m->js_thread = pthread_self();
  atomic_init(&m->stopping, false);
  atomic_init(&m->outstanding, 0);
  pthread_mutex_init(&m->nlock, NULL);
  pthread_condattr_t monotonic;
  pthread_condattr_init(&monotonic);
  pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
  pthread_cond_init(&m->ncond, &monotonic);
  pthread_condattr_destroy(&monotonic);
  pal_eof_gates_init(&m->gates);
  pal_pt_inodes_init(&m->pt_inodes);
  pal_fast_init(&m->fast);
  atomic_init(&m->fast_on, false);
  pal_events_init(&m->events);
  m->batch_delay_ms = BATCH_DELAY_MS;
  m->batch_at_once = BATCH_AT_ONCE;
  return m;
}

/* nthreads == 0: requests are read on the JS thread's loop when /dev/fuse is readable. */
static bool watch_on_loop(napi_env env, pal_mount *m) {
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop ||
      uv_poll_init(loop, &m->poll, fuse_session_fd(m->se)) != 0)
    return false;
  m->poll.data = m;
  m->polling = true;
  return true;
}

/* Either mode: the timer that delivers the warm path's event batches on the JS thread. */
static bool start_batch_timer(napi_env env, pal_mount *m) {
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop || uv_timer_init(loop, &m->batch_timer) != 0)
    return false;
  m->batch_timer.data = m;
  m->timer_open = true;
  return true;
}

/* A mount that failed after its threadsafe function was made: stop what runs, and leave the
 * rest to maybe_finish once the event loop lets go of the threadsafe function and poll handle. */
static void abandon_mount(pal_mount *m) {
  atomic_store(&m->stopping, true);
  m->abandoned = true;
  halt_session(m);
  pthread_join(m->notifier, NULL);
  m->notifier_joined = true;
  if (m->dispatch_ref) napi_delete_reference(m->env, m->dispatch_ref);
  m->dispatch_ref = NULL;
  napi_async_destroy(m->env, m->async_ctx);
  m->async_ctx = NULL;
  if (m->polling) uv_close((uv_handle_t *)&m->poll, on_poll_closed);
  if (m->timer_open) uv_close((uv_handle_t *)&m->batch_timer, on_timer_closed);
  napi_release_threadsafe_function(m->tsfn, napi_tsfn_abort);
}

static void stop_notifier(pal_mount *m) {
  pthread_mutex_lock(&m->nlock);
  m->nstop = true;
  pthread_cond_signal(&m->ncond);
  pthread_mutex_unlock(&m->nlock);
  pthread_join(m->notifier, NULL);
}

/* A takeover: {fd, init} from the previous pald (holder or systemd's fd store). The descriptor
 * must be /dev/fuse, the INIT request well-formed, and `path` must carry a FUSE mount: we never
 * touch the path itself (stat would wait for the very session we are about to serve). */
static bool read_takeover(napi_env env, napi_value v, const char *path, int *fd, void **init,
                          size_t *init_len) {
  napi_value fdv, initv;
  int64_t n;
  bool is_ta = false;
  napi_typedarray_type type;
  if (napi_get_named_property(env, v, "fd", &fdv) != napi_ok || !pal_arg_i64(env, fdv, "takeover.fd", &n) ||
      napi_get_named_property(env, v, "init", &initv) != napi_ok)
    return false;
  if (n < 0 || n > 0x7fffffff) {
    pal_throw(env, "ERR_PAL_ARGS", EBADF, "takeover.fd out of range");
    return false;
  }
  *fd = (int)n; /* ours from here, whatever happens */
  napi_is_typedarray(env, initv, &is_ta);
  if (!is_ta || napi_get_typedarray_info(env, initv, &type, init_len, init, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    pal_throw(env, "ERR_PAL_ARGS", EINVAL, "takeover.init must be a Uint8Array");
    return false;
  }
  struct stat st;
  if (fstat(*fd, &st) != 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 10 || minor(st.st_rdev) != 229) {
    pal_throw(env, "ERR_PAL_HANDOVER", EBADF, "takeover: descriptor %d is not /dev/fuse", *fd);
    return false;
  }
  dev_t dev;
  char type_name[256];
  if (path[0] != '/' || !pal_top_mount_at(path, &dev, type_name, sizeof type_name) ||
      strncmp(type_name, "fuse", 4) != 0) {
    pal_throw(env, "ERR_PAL_HANDOVER", ENOENT, "takeover: no FUSE mount at %s to resume", path);
    return false;
  }
  return true;
}

/* mount(mountpoint, options, threads, dispatch, generation, takeover|null) -> handle. `options` is
 * the full -o list; generation tags this session's file handles (fuse_io.c). With `takeover`
 * ({fd, init}: the descriptor is the addon's from then on, closed on failure) the session resumes
 * the previous pald's mount at `mountpoint` instead of mounting anew.
 * Validation first, then each step undone in reverse order on failure (libfuse's own style). */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  napi_value argv[7], name, resource, out = NULL;
  uint64_t threads = 0, gen = 0;
  char *path = NULL, *opts = NULL, *real = NULL;
  pal_mount *m = NULL;
  int rc, takeover_fd = -1;
  void *init = NULL;
  size_t init_len = 0;
  napi_valuetype takeover_type = napi_undefined;
  bool passthrough = false;
  if (!pal_get_args(env, info, 7, argv) || !pal_arg_bool(env, argv[6], &passthrough)) return NULL;
  napi_typeof(env, argv[5], &takeover_type);
  bool takeover = takeover_type != napi_null && takeover_type != napi_undefined;
  path = pal_arg_string(env, argv[0], "mountpoint", NULL);
  if (!path) goto out;
  opts = pal_arg_string(env, argv[1], "options", NULL);
  if (!opts || !pal_arg_u64(env, argv[2], "threads", &threads) ||
      !pal_arg_u64(env, argv[4], "generation", &gen))
    goto out;
  if (threads > 64 || gen == 0 || gen > 0xffff) {
    pal_throw(env, "ERR_PAL_ARGS", 0, "threads must be 0..64, generation 1..65535");
    goto out;
  }
  if (takeover) {
    if (!read_takeover(env, argv[5], path, &takeover_fd, &init, &init_len)) goto out;
    if (mounted_here(path)) {
      pal_throw(env, "ERR_PAL_MOUNT", EBUSY, "%s is already mounted by this process", path);
      goto out;
    }
    real = strdup(path);
    if (!real) {
      pal_throw(env, "ERR_PAL_NOMEM", ENOMEM, "out of memory");
      goto out;
    }
  } else {
    real = usable_mountpoint(env, path);
    if (!real) goto out;
  }
  m = new_mount(env, (int)threads);
  if (!m) {
    free(real);
    pal_throw(env, "ERR_PAL_NOMEM", ENOMEM, "out of memory");
    goto out;
  }
  m->mountpoint = real;
  m->keep_mounted = takeover; /* a failed takeover leaves the mount for the next attempt */
  if (pal_io_init(&m->io, (uint16_t)gen) != 0) {
    pal_throw(env, "ERR_PAL_NOMEM", ENOMEM, "out of memory");
    goto err_free;
  }
  if (takeover && (rc = pal_io_set_replay(&m->io, init, init_len)) != 0) {
    pal_throw(env, "ERR_PAL_HANDOVER", -rc, "takeover: the saved INIT request is not usable");
    goto err_free;
  }

  const char *fargv[] = {"pal", "-o", opts, NULL};
  struct fuse_args args = FUSE_ARGS_INIT(3, (char **)fargv);
  m->se = fuse_session_new(&args, &pal_ops, sizeof pal_ops, m);
  fuse_opt_free_args(&args);
  if (!m->se) {
    pal_throw(env, "ERR_PAL_MOUNT", EINVAL, "fuse_session_new refused the options \"%s\"", opts);
    goto err_free;
  }
  if (takeover) {
    /* No mount(2): the session reads the inherited descriptor, which it owns from now on. */
    if ((rc = pal_fuse_install_io(m->se, takeover_fd, &m->io)) != 0) {
      pal_throw(env, "ERR_PAL_MOUNT", -rc, "installing session I/O failed: %s", strerror(-rc));
      goto err_session;
    }
    takeover_fd = -1;
    /* The kernel negotiated with the first pald, and we cannot see its INIT reply: passthrough is
     * tried, and the first registration tells (EPERM when it was not negotiated). */
    if (passthrough && (m->pt_conn = pal_pt_conn_new(fuse_session_fd(m->se))) != NULL) {
      pal_secmem_use_memfd();
      m->io.want_passthrough = true;
      atomic_store(&m->io.passthrough, true);
    }
    /* The replayed INIT now, not when /dev/fuse next turns readable: requests the previous pald
     * left unanswered come back only with the resend that follows INIT (fuse_io.c). */
    struct fuse_buf fbuf;
    memset(&fbuf, 0, sizeof fbuf);
    if (fuse_session_receive_buf(m->se, &fbuf) > 0) fuse_session_process_buf(m->se, &fbuf);
    free(fbuf.mem);
    if (atomic_load(&m->io.init_unique) != UINT64_MAX) {
      pal_throw(env, "ERR_PAL_HANDOVER", EPROTO, "takeover: the session did not accept the saved INIT");
      goto err_session;
    }
  } else {
    if (fuse_session_mount(m->se, real) != 0) {
      pal_throw(env, "ERR_PAL_MOUNT", EIO, "mounting FUSE at %s failed (libfuse said why on stderr)", real);
      goto err_session;
    }
    if ((rc = pal_fuse_install_io(m->se, fuse_session_fd(m->se), &m->io)) != 0) {
      pal_throw(env, "ERR_PAL_MOUNT", -rc, "installing session I/O failed: %s", strerror(-rc));
      goto err_unmount;
    }
    /* Asked for in the INIT reply, which no thread has read yet; secure buffers become memfds
     * once the kernel agreed (a descriptor each until registered: none for nothing). */
    if (passthrough && (m->pt_conn = pal_pt_conn_new(fuse_session_fd(m->se))) != NULL) {
      m->io.on_passthrough = pal_secmem_use_memfd;
      m->io.want_passthrough = true;
    }
  }
  char type[256];
  m->dev_known = pal_top_mount_at(real, &m->dev, type, sizeof type);
  int fd = fuse_session_fd(m->se);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  if ((m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
    pal_throw(env, "ERR_PAL_MOUNT", errno, "eventfd: %s", strerror(errno));
    goto err_unmount;
  }
  if (start_thread(&m->notifier, notifier_main, m) != 0) {
    pal_throw(env, "ERR_PAL_MOUNT", EAGAIN, "cannot start the notifier thread");
    goto err_unmount;
  }
  napi_create_string_utf8(env, "pal:fuse", NAPI_AUTO_LENGTH, &name);
  napi_create_object(env, &resource);
  if (napi_async_init(env, resource, name, &m->async_ctx) != napi_ok) {
    pal_throw_last(env, "napi_async_init");
    goto err_notifier;
  }
  if (napi_create_reference(env, argv[3], 1, &m->dispatch_ref) != napi_ok) {
    pal_throw_last(env, "napi_create_reference");
    goto err_async;
  }
  if (napi_create_threadsafe_function(env, argv[3], NULL, name, 0, 1, m, on_tsfn_finalized, m, call_js,
                                      &m->tsfn) != napi_ok) {
    pal_throw_last(env, "napi_create_threadsafe_function");
    goto err_ref;
  }
  /* From here the threadsafe function refers to m until its finalizer runs: failures abandon. */
  if ((m->nthreads == 0 && !watch_on_loop(env, m)) || !start_batch_timer(env, m)) {
    pal_throw(env, "ERR_PAL_MOUNT", EIO, "cannot watch /dev/fuse on the event loop");
    goto err_abandon;
  }
  for (int i = 0; i < m->nthreads; i++) {
    if (start_thread(&m->workers[i], worker_main, m) != 0) {
      m->nthreads = i; /* join the ones that started */
      pal_throw(env, "ERR_PAL_MOUNT", EAGAIN, "cannot start FUSE worker threads");
      goto err_abandon;
    }
  }
  if (napi_create_external(env, m, finalize_mount_handle, NULL, &out) != napi_ok) {
    pal_throw_last(env, "napi_create_external");
    out = NULL;
    goto err_abandon;
  }
  if (m->polling) uv_poll_start(&m->poll, UV_READABLE, on_poll);
  pthread_mutex_lock(&g_active_lock);
  m->next_active = g_active;
  g_active = m;
  if (!g_atexit_registered) g_atexit_registered = atexit(atexit_detach) == 0;
  pthread_mutex_unlock(&g_active_lock);
  napi_add_env_cleanup_hook(env, cleanup_hook, m);
  m->keep_mounted = false; /* resumed: from now on ours like a fresh mount */
  goto out;

err_abandon:
  abandon_mount(m);
  goto out;
err_ref:
  if (m->dispatch_ref) napi_delete_reference(env, m->dispatch_ref);
err_async:
  napi_async_destroy(env, m->async_ctx);
err_notifier:
  stop_notifier(m);
err_unmount:
  detach_mount(m);
err_session:
  fuse_session_destroy(m->se);
err_free:
  if (m->wake_fd >= 0) close(m->wake_fd);
  pthread_mutex_destroy(&m->nlock);
  pthread_cond_destroy(&m->ncond);
  free(m->workers);
  free_mount(m);
out:
  if (takeover_fd >= 0) close(takeover_fd);
  free(path);
  free(opts);
  return out;
}

typedef struct {
  pal_mount *m;
  napi_deferred deferred;
  napi_async_work work;
} unmount_job;

static void unmount_execute(napi_env env, void *data) {
  unmount_job *job = data;
  pthread_join(job->m->notifier, NULL);
}

static void unmount_complete(napi_env env, napi_status status, void *data) {
  unmount_job *job = data;
  pal_mount *m = job->m;
  m->notifier_joined = true;
  napi_release_threadsafe_function(m->tsfn, napi_tsfn_release);
  napi_value undef;
  napi_get_undefined(env, &undef);
  napi_resolve_deferred(env, job->deferred, undef);
  napi_delete_async_work(env, job->work);
  free(job);
  maybe_finish(m); /* or later, when JS answers what it still holds */
}

static napi_value stop_session(napi_env env, pal_mount *m);

/* unmount(handle) -> Promise<void>. Idempotent through the TS wrapper. */
static napi_value js_unmount(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!pal_get_args(env, info, 1, argv)) return NULL;
  pal_mount *m = get_mount(env, argv[0]);
  if (!m) return NULL;
  return stop_session(env, m);
}

/* release(handle) -> Promise<void>: like unmount, but the mount stays for the next pald, which
 * resumes it from the descriptor a holder or systemd keeps. Requests read meanwhile wait in the
 * kernel; replies JS still owes go out as before. */
static napi_value js_release(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!pal_get_args(env, info, 1, argv)) return NULL;
  pal_mount *m = get_mount(env, argv[0]);
  if (!m) return NULL;
  if (!atomic_load(&m->stopping)) m->keep_mounted = true;
  return stop_session(env, m);
}

/* park(handle): from now on only requests on this session's own open handles are served; the
 * rest are read and left for the kernel to resend to the next pald (fuse_io.c). */
static napi_value js_park(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!pal_get_args(env, info, 1, argv)) return NULL;
  pal_mount *m = get_mount(env, argv[0]);
  if (!m) return NULL;
  atomic_store(&m->io.mode, PAL_IO_PARK);
  return NULL;
}

/* handoverState(handle) -> {fd, init, ownHandles, outstanding, parked, foreign, resend, kernelMinor}
 * fd: the session's /dev/fuse descriptor (to give a holder or systemd a duplicate; never close it);
 * init: the kernel's INIT request once answered, else null. */
static napi_value js_handover_state(napi_env env, napi_callback_info info) {
  napi_value argv[1], out, v;
  if (!pal_get_args(env, info, 1, argv)) return NULL;
  pal_mount *m = get_mount(env, argv[0]);
  if (!m) return NULL;
  unsigned char init[PAL_INIT_MAX];
  size_t init_len = m->se && !m->finished ? pal_io_saved_init(&m->io, init, sizeof init) : 0;
  NAPI_TRY(env, napi_create_object(env, &out));
  NAPI_TRY(env, napi_create_int32(env, m->se && !m->finished ? fuse_session_fd(m->se) : -1, &v));
  NAPI_TRY(env, napi_set_named_property(env, out, "fd", v));
  if (init_len) {
    void *data;
    napi_value ab;
    NAPI_TRY(env, napi_create_arraybuffer(env, init_len, &data, &ab));
    memcpy(data, init, init_len);
    NAPI_TRY(env, napi_create_typedarray(env, napi_uint8_array, init_len, ab, 0, &v));
    const struct fuse_init_in *in = (const void *)(init + sizeof(struct fuse_in_header));
    napi_value minor;
    NAPI_TRY(env, napi_create_uint32(env, in->minor, &minor));
    NAPI_TRY(env, napi_set_named_property(env, out, "kernelMinor", minor));
  } else {
    NAPI_TRY(env, napi_get_null(env, &v));
  }
  NAPI_TRY(env, napi_set_named_property(env, out, "init", v));
  const struct {
    const char *key;
    double value;
  } nums[] = {{"ownHandles", (double)pal_io_own_handles(&m->io)},
              {"outstanding", (double)atomic_load(&m->outstanding)},
              {"parked", (double)atomic_load(&m->io.parked)},
              {"foreign", (double)atomic_load(&m->io.foreign)},
              {"resend", (double)atomic_load(&m->io.resend)},
              {"reopens", (double)atomic_load(&m->io.reopens)}};
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
    NAPI_TRY(env, napi_create_double(env, nums[i].value, &v));
    NAPI_TRY(env, napi_set_named_property(env, out, nums[i].key, v));
  }
  return out;
}

/* passthroughStats(handle) -> { asked, offered, negotiated, opens, conflicts, busyInodes,
 * contentReads }: opens answered by passthrough, opens that could not be (their inode read other
 * content), inodes with passthrough files open now, READs the addon answered from content. */
static napi_value js_passthrough_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1], out, v;
  if (!pal_get_args(env, info, 1, argv)) return NULL;
  pal_mount *m = get_mount(env, argv[0]);
  if (!m) return NULL;
  NAPI_TRY(env, napi_create_object(env, &out));
  const struct {
    const char *key;
    bool value;
  } flags[] = {{"asked", m->io.want_passthrough},
               {"offered", atomic_load(&m->io.kernel_passthrough)},
               {"negotiated", atomic_load(&m->io.passthrough)}};
  for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
    NAPI_TRY(env, napi_get_boolean(env, flags[i].value, &v));
    NAPI_TRY(env, napi_set_named_property(env, out, flags[i].key, v));
  }
  const struct {
    const char *key;
    double value;
  } nums[] = {{"opens", (double)atomic_load(&m->pt_inodes.opens)},
              {"conflicts", (double)atomic_load(&m->pt_inodes.conflicts)},
              {"busyInodes", (double)pal_pt_inodes_busy(&m->pt_inodes)},
              {"contentReads", (double)atomic_load(&m->content_reads)}};
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
    NAPI_TRY(env, napi_create_double(env, nums[i].value, &v));
    NAPI_TRY(env, napi_set_named_property(env, out, nums[i].key, v));
  }
  return out;
}

static napi_value stop_session(napi_env env, pal_mount *m) {
  napi_value promise, name;
  if (atomic_load(&m->stopping)) {
    pal_throw(env, "ERR_PAL_UNMOUNTED", 0, "already unmounted");
    return NULL;
  }
  unmount_job *job = calloc(1, sizeof *job);
  if (!job) {
    pal_throw(env, "ERR_PAL_NOMEM", ENOMEM, "out of memory");
    return NULL;
  }
  job->m = m;
  NAPI_TRY(env, napi_create_promise(env, &job->deferred, &promise));
  stop_mount(m);
  napi_create_string_utf8(env, "pal:unmount", NAPI_AUTO_LENGTH, &name);
  NAPI_TRY(env, napi_create_async_work(env, NULL, name, unmount_execute, unmount_complete, job, &job->work));
  NAPI_TRY(env, napi_queue_async_work(env, job->work));
  return promise;
}

static napi_value enqueue_notify(napi_env env, napi_value handle, uint64_t ino, char *name) {
  pal_mount *m = get_mount(env, handle);
  if (!m) {
    free(name);
    return NULL;
  }
  if (atomic_load(&m->stopping)) { /* nothing cached to drop any more */
    free(name);
    return NULL;
  }
  notify_item *it = calloc(1, sizeof *it);
  if (!it) {
    free(name);
    pal_throw(env, "ERR_PAL_NOMEM", ENOMEM, "out of memory");
    return NULL;
  }
  it->ino = ino;
  it->name = name;
  pthread_mutex_lock(&m->nlock);
  if (!name) {
    /* The same inode's pages already to drop, not yet dropped: that one runs after now too (a
     * batch of closes answered in C tells JS of many last closes of one secret at once). */
    for (notify_item *q = m->nhead; q; q = q->next) {
      if (q->ino == ino && !q->name) {
        pthread_mutex_unlock(&m->nlock);
        free(it);
        return NULL;
      }
    }
  }
  if (m->ntail)
    m->ntail->next = it;
  else
    m->nhead = it;
  m->ntail = it;
  pthread_cond_signal(&m->ncond);
  pthread_mutex_unlock(&m->nlock);
  return NULL;
}

/* invalidateEntry(handle, parent, name) */
static napi_value js_inval_entry(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  uint64_t parent;
  if (!pal_get_args(env, info, 3, argv) || !pal_arg_u64(env, argv[1], "parent", &parent)) return NULL;
  char *name = pal_arg_string(env, argv[2], "name", NULL);
  if (!name) return NULL;
  return enqueue_notify(env, argv[0], parent, name);
}

/* invalidateInode(handle, ino) */
static napi_value js_inval_inode(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint64_t ino;
  if (!pal_get_args(env, info, 2, argv) || !pal_arg_u64(env, argv[1], "ino", &ino)) return NULL;
  return enqueue_notify(env, argv[0], ino, NULL);
}

/* clearStaleMount(path) -> number of stale mounts removed */
static napi_value js_clear_stale(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  if (!pal_get_args(env, info, 1, argv)) return NULL;
  char *path = pal_arg_string(env, argv[0], "mountpoint", NULL);
  if (!path) return NULL;
  int cleared = mounted_here(path) ? 0 : pal_clear_stale(path);
  free(path);
  if (cleared < 0) {
    pal_throw(env, "ERR_PAL_MOUNT", -cleared, "clearStaleMount: %s", strerror(-cleared));
    return NULL;
  }
  napi_create_int32(env, cleared, &out);
  return out;
}

/* ---------- the warm path (fast_path.c) ---------- */

/* fastPathEnable(handle, on) */
static napi_value js_fast_enable(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  bool on;
  if (!pal_get_args(env, info, 2, argv) || !pal_arg_bool(env, argv[1], &on)) return NULL;
  pal_mount *m = get_mount(env, argv[0]);
  if (!m) return NULL;
  if (!pal_fast_enable(&m->fast, on)) {
    pal_throw(env, "ERR_PAL_NOMEM", ENOMEM, "out of memory");
    return NULL;
  }
  atomic_store(&m->fast_on, on);
  return NULL;
}

/* fastPathGeneration(handle, generation) */
static napi_value js_fast_generation(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint64_t gen;
  if (!pal_get_args(env, info, 2, argv) || !pal_arg_u64(env, argv[1], "generation", &gen)) return NULL;
  pal_mount *m = get_mount(env, argv[0]);
  if (m) pal_fast_set_generation(&m->fast, gen);
  return NULL;
}

/* fastPathRemember(handle, generation, pid, uid, gid, startTime, remainingMs, name,
 *                  ino, mode, nlink, uid, gid, size, mtimeMs) -> remembered */
static napi_value js_fast_remember(napi_env env, napi_callback_info info) {
  napi_value argv[15], out;
  uint64_t gen, pid, uid, gid;
  double remaining;
  pal_fast_who who;
  struct stat st;
  if (!pal_get_args(env, info, 15, argv)) return NULL;
  pal_mount *m = get_mount(env, argv[0]);
  if (!m || !pal_arg_u64(env, argv[1], "generation", &gen) || !pal_arg_u64(env, argv[2], "pid", &pid) ||
      !pal_arg_u64(env, argv[3], "uid", &uid) || !pal_arg_u64(env, argv[4], "gid", &gid) ||
      !pal_arg_double(env, argv[6], "remainingMs", &remaining) || !read_attr(env, argv + 8, &st))
    return NULL;
  char *start = pal_arg_string(env, argv[5], "startTime", NULL);
  if (!start) return NULL;
  char *name = pal_arg_string(env, argv[7], "name", NULL);
  char *end = NULL;
  errno = 0;
  unsigned long long start_time = strtoull(start, &end, 10);
  bool ok = name && !errno && end != start && *end == 0 && pid > 0 && pid <= INT32_MAX;
  if (ok) {
    who = (pal_fast_who){.pid = (pid_t)pid,
                         .uid = (uid_t)uid,
                         .gid = (gid_t)gid,
                         .start_time = start_time,
                         .generation = gen,
                         .remaining_ms = remaining};
    ok = pal_fast_remember(&m->fast, &who, name, &st);
  }
  free(start);
  free(name);
  napi_get_boolean(env, ok, &out);
  return out;
}

/* The caller of a fill: (generation, pid, uid, gid, startTime, remainingMs) from argv[0..5]. */
static bool read_who(napi_env env, const napi_value *argv, pal_fast_who *who) {
  uint64_t gen, pid, uid, gid;
  double remaining;
  if (!pal_arg_u64(env, argv[0], "generation", &gen) || !pal_arg_u64(env, argv[1], "pid", &pid) ||
      !pal_arg_u64(env, argv[2], "uid", &uid) || !pal_arg_u64(env, argv[3], "gid", &gid) ||
      !pal_arg_double(env, argv[5], "remainingMs", &remaining))
    return false;
  char *start = pal_arg_string(env, argv[4], "startTime", NULL);
  if (!start) return false;
  char *end = NULL;
  errno = 0;
  unsigned long long start_time = strtoull(start, &end, 10);
  bool ok = !errno && end != start && *end == 0 && pid > 0 && pid <= INT32_MAX;
  free(start);
  *who = (pal_fast_who){.pid = (pid_t)pid,
                        .uid = (uid_t)uid,
                        .gid = (gid_t)gid,
                        .start_time = ok ? start_time : 0,
                        .generation = gen,
                        .remaining_ms = ok ? remaining : 0}; /* 0: refused */
  return true;
}

/* fastPathLease(handle, generation, pid, uid, gid, startTime, remainingMs, ino, leaseId, content,
 *               fhs[], auditTail) -> leased. content (a SecureBuffer handle) is handed over either
 * way. auditTail: the constant part of its opens' audit lines (audit_line.h), or null (JS writes
 * them). */
static napi_value js_fast_lease(napi_env env, napi_callback_info info) {
  napi_value argv[12], out;
  pal_fast_who who;
  uint64_t ino, lease_id, fhs[PAL_FAST_LEASE_SLOTS];
  uint32_t nfh = 0;
  if (!pal_get_args(env, info, 12, argv)) return NULL;
  pal_mount *m = get_mount(env, argv[0]);
  if (!m || !read_who(env, argv + 1, &who) || !pal_arg_u64(env, argv[7], "ino", &ino) ||
      !pal_arg_u64(env, argv[8], "leaseId", &lease_id))
    return NULL;
  bool is_array = false;
  napi_is_array(env, argv[10], &is_array);
  if (!is_array || napi_get_array_length(env, argv[10], &nfh) != napi_ok || nfh == 0 ||
      nfh > PAL_FAST_LEASE_SLOTS) {
    pal_throw(env, "ERR_PAL_ARGS", 0, "fhs must be an array of 1..%d handle numbers", PAL_FAST_LEASE_SLOTS);
    return NULL;
  }
  for (uint32_t i = 0; i < nfh; i++) {
    napi_value v;
    if (napi_get_element(env, argv[10], i, &v) != napi_ok || !pal_arg_u64(env, v, "fh", &fhs[i])) return NULL;
  }
  napi_valuetype tail_type;
  char *tail = NULL;
  size_t tail_len = 0;
  if (napi_typeof(env, argv[11], &tail_type) != napi_ok ||
      (tail_type != napi_null && !(tail = pal_arg_string(env, argv[11], "auditTail", &tail_len))))
    return NULL;
  pal_secmem *content = pal_secure_buffer_take(env, argv[9]);
  if (!content) {
    free(tail);
    return NULL;
  }
  bool ok = pal_fast_lease_open(&m->fast, &who, (fuse_ino_t)ino, lease_id, content, fhs, nfh, tail, tail_len);
  free(tail);
  if (!ok) pal_secmem_unref(content);
  napi_get_boolean(env, ok, &out);
  return out;
}

/* fastPathExtend(handle, generation, pid, uid, gid, startTime, remainingMs) -> extended: JS attested
 * that caller again with the same answer (pal_fast_extend). */
static napi_value js_fast_extend(napi_env env, napi_callback_info info) {
  napi_value argv[7], out;
  pal_fast_who who;
  if (!pal_get_args(env, info, 7, argv)) return NULL;
  pal_mount *m = get_mount(env, argv[0]);
  if (!m || !read_who(env, argv + 1, &who)) return NULL;
  napi_get_boolean(env, pal_fast_extend(&m->fast, &who), &out);
  return out;
}

/* fastPathVouch(handle, generation, pid, uid, gid, startTime, remainingMs, cgroup) -> vouched: the
 * remembered container caller's /proc/<pid>/cgroup text as JS's resolver read it (latin1, each
 * char one byte, as procfs.ts reads it), so that the addon adopts processes with the same text,
 * uid and gid (pal_fast_vouch). A text too long for the addon is refused (false), not cut. */
static napi_value js_fast_vouch(napi_env env, napi_callback_info info) {
  napi_value argv[8], out;
  pal_fast_who who;
  if (!pal_get_args(env, info, 8, argv)) return NULL;
  pal_mount *m = get_mount(env, argv[0]);
  if (!m || !read_who(env, argv + 1, &who)) return NULL;
  static _Thread_local char text[PAL_FAST_CGROUP_MAX + 1];
  size_t len = 0;
  if (napi_get_value_string_latin1(env, argv[7], NULL, 0, &len) != napi_ok) {
    pal_throw(env, "ERR_PAL_ARGS", 0, "cgroup must be a string");
    return NULL;
  }
  bool ok = len > 0 && len < PAL_FAST_CGROUP_MAX;
  if (ok) napi_get_value_string_latin1(env, argv[7], text, sizeof text, &len);
  ok = ok && who.remaining_ms > 0 && pal_fast_vouch(&m->fast, &who, text, len);
  napi_get_boolean(env, ok, &out);
  return out;
}

/* fastPathTakeUsed(handle, generation, pid, uid, gid, startTime) -> whether that caller sent a
 * request since the last call (pal_fast_take_used; clears it). */
static napi_value js_fast_take_used(napi_env env, napi_callback_info info) {
  napi_value argv[7], out;
  pal_fast_who who;
  if (!pal_get_args(env, info, 6, argv)) return NULL;
  pal_mount *m = get_mount(env, argv[0]);
  napi_create_double(env, 1, &argv[6]); /* read_who's remainingMs: no window is asked about here */
  if (!m || !read_who(env, argv + 1, &who)) return NULL;
  napi_get_boolean(env, who.remaining_ms > 0 && pal_fast_take_used(&m->fast, &who), &out);
  return out;
}

/* fastPathRetireLeases(handle): every lease retired (take them with fastPathTakeRetired). */
static napi_value js_fast_retire_leases(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!pal_get_args(env, info, 1, argv)) return NULL;
  pal_mount *m = get_mount(env, argv[0]);
  if (m) pal_fast_retire_leases(&m->fast);
  return NULL;
}

/* fastPathExpire(handle): callers past their reuse window forgotten, their leases retired. */
static napi_value js_fast_expire(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!pal_get_args(env, info, 1, argv)) return NULL;
  pal_mount *m = get_mount(env, argv[0]);
  if (m) pal_fast_expire(&m->fast);
  return NULL;
}

/* fastPathTakeRetired(handle) -> [{ lease, inUse, opened, free: [fh...] }] retired since the last call. */
static napi_value js_fast_take_retired(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  if (!pal_get_args(env, info, 1, argv)) return NULL;
  pal_mount *m = get_mount(env, argv[0]);
  if (!m) return NULL;
  pal_fast_retired *r = pal_fast_take_retired(&m->fast);
  napi_create_array(env, &out);
  for (uint32_t i = 0; r; i++) {
    napi_value item, v, free_fhs;
    napi_create_object(env, &item);
    napi_create_double(env, (double)r->lease_id, &v);
    napi_set_named_property(env, item, "lease", v);
    napi_create_uint32(env, r->in_use, &v);
    napi_set_named_property(env, item, "inUse", v);
    napi_create_double(env, (double)r->opened, &v);
    napi_set_named_property(env, item, "opened", v);
    napi_create_array_with_length(env, r->nfree, &free_fhs);
    for (uint32_t k = 0; k < r->nfree; k++) {
      napi_create_double(env, (double)r->free_fh[k], &v);
      napi_set_element(env, free_fhs, k, v);
    }
    napi_set_named_property(env, item, "free", free_fhs);
    napi_set_element(env, out, i, item);
    pal_fast_retired *next = r->next;
    free(r);
    r = next;
  }
  return out;
}

/* fastPathTakeEvents(handle) -> [Float64Array of the queued events (PAL_EVENT_FIELDS each), their
 * audit lines (a Buffer, or null)], or null: what JS has not heard of yet, taken at once (before a
 * limit refusal, after the session stopped). */
static napi_value js_fast_take_events(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  if (!pal_get_args(env, info, 1, argv)) return NULL;
  pal_mount *m = get_mount(env, argv[0]);
  if (!m) return NULL;
  napi_value events, text;
  events = take_events(m, env, &text);
  if (!events) {
    napi_get_null(env, &out);
    return out;
  }
  /* [events, lines]: as the dispatcher gets them (a, b). */
  if (napi_create_array_with_length(env, 2, &out) != napi_ok ||
      napi_set_element(env, out, 0, events) != napi_ok || napi_set_element(env, out, 1, text) != napi_ok)
    return NULL;
  return out;
}

/* fastPathBatching(handle, delayMs, atOnce): longest an event waits before JS hears of it, and
 * how many queued make a poll wakeup deliver at once (tests hold events until the session stops). */
static napi_value js_fast_batching(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  uint64_t ms, at_once;
  if (!pal_get_args(env, info, 3, argv) || !pal_arg_u64(env, argv[1], "delayMs", &ms) ||
      !pal_arg_u64(env, argv[2], "atOnce", &at_once))
    return NULL;
  pal_mount *m = get_mount(env, argv[0]);
  if (!m) return NULL;
  m->batch_delay_ms = ms;
  m->batch_at_once = at_once ? at_once : 1;
  return NULL;
}

static void set_count(napi_env env, napi_value obj, const char *key, unsigned long long v) {
  napi_value n;
  napi_create_double(env, (double)v, &n);
  napi_set_named_property(env, obj, key, n);
}

/* fastPathStats(handle) -> counters (see pal_fast_stats) */
static napi_value js_fast_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  if (!pal_get_args(env, info, 1, argv)) return NULL;
  pal_mount *m = get_mount(env, argv[0]);
  if (!m) return NULL;
  pal_fast_stats *s = &m->fast.stats;
  static const char *ops[8] = {"", "lookup", "getattr", "readdir", "open", "read", "release", "statfs"};
  napi_create_object(env, &out);
  set_count(env, out, "lookupHits", atomic_load(&s->lookup_hits));
  set_count(env, out, "getattrHits", atomic_load(&s->getattr_hits));
  set_count(env, out, "misses", atomic_load(&s->misses));
  set_count(env, out, "fills", atomic_load(&s->fills));
  set_count(env, out, "refusedFills", atomic_load(&s->refused_fills));
  set_count(env, out, "goneCallers", atomic_load(&s->gone_callers));
  set_count(env, out, "pidfdPins", atomic_load(&s->pidfd_pins));
  set_count(env, out, "statPins", atomic_load(&s->stat_pins));
  set_count(env, out, "openHits", atomic_load(&s->open_hits));
  set_count(env, out, "leases", atomic_load(&s->leases));
  set_count(env, out, "refusedLeases", atomic_load(&s->refused_leases));
  set_count(env, out, "retiredLeases", atomic_load(&s->retired_leases));
  set_count(env, out, "extended", atomic_load(&s->extended));
  set_count(env, out, "refusedExtends", atomic_load(&s->refused_extends));
  set_count(env, out, "vouched", atomic_load(&s->vouched));
  set_count(env, out, "adopted", atomic_load(&s->adopted));
  set_count(env, out, "unadopted", atomic_load(&s->unadopted));
  pthread_mutex_lock(&m->fast.lock);
  set_count(env, out, "sponsors", m->fast.nsponsors);
  pthread_mutex_unlock(&m->fast.lock);
  pthread_mutex_lock(&m->events.lock);
  set_count(env, out, "eventBatches", m->events.batches);
  set_count(env, out, "events", m->events.taken);
  set_count(env, out, "eventsQueued", m->events.count);
  set_count(env, out, "eventsFolded", m->events.folded);
  set_count(env, out, "auditLines", m->events.lines);
  pthread_mutex_unlock(&m->events.lock);
  napi_value to_js;
  napi_create_object(env, &to_js);
  for (int i = 1; i < 8; i++) set_count(env, to_js, ops[i], atomic_load(&s->to_js[i]));
  napi_set_named_property(env, out, "toJs", to_js);
  return out;
}

bool pal_fuse_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"mount", NULL, js_mount, NULL, NULL, NULL, napi_default, NULL},
      {"release", NULL, js_release, NULL, NULL, NULL, napi_default, NULL},
      {"park", NULL, js_park, NULL, NULL, NULL, napi_default, NULL},
      {"handoverState", NULL, js_handover_state, NULL, NULL, NULL, napi_default, NULL},
      {"passthroughStats", NULL, js_passthrough_stats, NULL, NULL, NULL, napi_default, NULL},
      {"unmount", NULL, js_unmount, NULL, NULL, NULL, napi_default, NULL},
      {"invalidateEntry", NULL, js_inval_entry, NULL, NULL, NULL, napi_default, NULL},
      {"invalidateInode", NULL, js_inval_inode, NULL, NULL, NULL, napi_default, NULL},
      {"clearStaleMount", NULL, js_clear_stale, NULL, NULL, NULL, napi_default, NULL},
      {"replyEntry", NULL, reply_entry, NULL, NULL, NULL, napi_default, NULL},
      {"replyAttr", NULL, reply_attr, NULL, NULL, NULL, napi_default, NULL},
      {"replyErr", NULL, reply_err, NULL, NULL, NULL, napi_default, NULL},
      {"replyBuf", NULL, reply_buf, NULL, NULL, NULL, napi_default, NULL},
      {"replyOpen", NULL, reply_open, NULL, NULL, NULL, napi_default, NULL},
      {"replyDir", NULL, reply_dir, NULL, NULL, NULL, napi_default, NULL},
      {"replyStatfs", NULL, reply_statfs, NULL, NULL, NULL, napi_default, NULL},
      {"fastPathEnable", NULL, js_fast_enable, NULL, NULL, NULL, napi_default, NULL},
      {"fastPathGeneration", NULL, js_fast_generation, NULL, NULL, NULL, napi_default, NULL},
      {"fastPathRemember", NULL, js_fast_remember, NULL, NULL, NULL, napi_default, NULL},
      {"fastPathStats", NULL, js_fast_stats, NULL, NULL, NULL, napi_default, NULL},
      {"fastPathLease", NULL, js_fast_lease, NULL, NULL, NULL, napi_default, NULL},
      {"fastPathRetireLeases", NULL, js_fast_retire_leases, NULL, NULL, NULL, napi_default, NULL},
      {"fastPathExpire", NULL, js_fast_expire, NULL, NULL, NULL, napi_default, NULL},
      {"fastPathTakeRetired", NULL, js_fast_take_retired, NULL, NULL, NULL, napi_default, NULL},
      {"fastPathTakeEvents", NULL, js_fast_take_events, NULL, NULL, NULL, napi_default, NULL},
      {"fastPathBatching", NULL, js_fast_batching, NULL, NULL, NULL, napi_default, NULL},
      {"fastPathExtend", NULL, js_fast_extend, NULL, NULL, NULL, napi_default, NULL},
      {"fastPathTakeUsed", NULL, js_fast_take_used, NULL, NULL, NULL, napi_default, NULL},
      {"fastPathVouch", NULL, js_fast_vouch, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}
