/* The session reads and writes /dev/fuse through these callbacks (fuse_session_custom_io), which
 * lets pal see every request and reply without touching libfuse:
 *
 * INIT fix-up. libfuse 3.14.0 (Debian 12's) computes FUSE_CAP_PARALLEL_DIROPS but never sends
 * FUSE_PARALLEL_DIROPS in its INIT reply (fixed upstream later, libfuse #861). Without it the
 * kernel serialises every lookup in a directory behind a per-directory mutex, so one lookup
 * waiting for a slow JS answer would block all other lookups under /run/pal. We set the flag in
 * the reply when the kernel offered it.
 *
 * Handover (DESIGN "Restarts without stacked mounts"). The next pald resumes this very session
 * from the same /dev/fuse descriptor:
 *  - the INIT request is saved, so that the next pald's libfuse, which insists on INIT first, gets
 *    it replayed; its reply is swallowed (the kernel negotiated once and would reject a second);
 *  - after the replay, FUSE_NOTIFY_RESEND (Linux >= 6.9) puts back in the kernel's queue every
 *    request the previous pald had read and not answered (a SIGKILL, or requests parked below);
 *  - file handles are tagged with a per-session generation in their top 16 bits. A handle is a
 *    pointer into the pald that opened it: one from an earlier pald must never be dereferenced
 *    (another secret's memory could be served). A read on such a foreign handle opens the file
 *    again for the caller who reads (a synthetic OPEN with the reader's uid/gid/pid: JS decides
 *    afresh, as for any open; its reply is kept from the kernel) and is then served from the new
 *    handle; the kernel's release of the foreign handle releases ours. Release/flush of a foreign
 *    handle that was never read succeed here; anything else on one is EBADF;
 *  - while handing over (PAL_IO_PARK), requests on this session's own open handles are still
 *    served so that they drain, and every other request is read but left unanswered: the kernel
 *    keeps it and resends it to the next pald. */
#define FUSE_USE_VERSION 314
#include "fuse_io.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* Linux 6.9 (protocol 7.40); Debian 12's <linux/fuse.h> predates it. */
#ifndef FUSE_NOTIFY_RESEND
#define FUSE_NOTIFY_RESEND 7
#endif
#define PAL_RESEND_MINOR 40
/* Passthrough (protocol 7.40, Linux 6.9): in the second word of INIT flags, the backing id in
 * fuse_open_out's last word, the stacking depth after flags2 in fuse_init_out. */
#define PAL_INIT_EXT (1u << 30)
#define PAL_FLAGS2_PASSTHROUGH (1u << (37 - 32))
#define PAL_INIT_IN_FLAGS2 16 /* offset in fuse_init_in */
#define PAL_INIT_OUT_FLAGS 12 /* offsets in fuse_init_out */
#define PAL_INIT_OUT_FLAGS2 32
#define PAL_INIT_OUT_STACK_DEPTH 36
#define PAL_FOPEN_PASSTHROUGH (1u << 7)
#define PAL_OPEN_OUT_BACKING_ID 12
#define FH_TAG_SHIFT 48
#define FH_PTR_MASK ((UINT64_C(1) << FH_TAG_SHIFT) - 1)
#define OPENS_MAX 65536 /* opens in flight that get tagged; beyond, handles stay untagged (EBADF later) */
#define REOPEN_MAX 4096 /* foreign handles re-opened, and reads waiting for it; beyond: EBADF */
/* Uniques of the synthetic OPENs: the kernel's count up from 0 in steps of 2 and never get here;
 * bit 63 is the kernel's resend mark. */
#define SYN_BIT (UINT64_C(1) << 62)
#define READ_REQ_LEN (sizeof(struct fuse_in_header) + sizeof(struct fuse_read_in))

struct pal_reopen {
  uint64_t foreign, local;
};

struct pal_pending_read {
  uint64_t syn, foreign;
  unsigned char req[READ_REQ_LEN];
};

int pal_io_init(pal_io_state *st, uint16_t gen) {
  if (gen == 0) return -EINVAL;
  if (pthread_mutex_init(&st->lock, NULL) != 0) return -ENOMEM;
  st->lock_ready = true;
  st->gen = gen;
  return 0;
}

void pal_io_destroy(pal_io_state *st) {
  if (!st->lock_ready) return;
  pthread_mutex_destroy(&st->lock);
  free(st->opens);
  st->opens = NULL;
  free(st->reopened);
  st->reopened = NULL;
  free(st->pending);
  st->pending = NULL;
  st->lock_ready = false;
}

int pal_io_set_replay(pal_io_state *st, const void *init, size_t len) {
  const struct fuse_in_header *in = init;
  if (len < sizeof *in + sizeof(struct fuse_init_in) || len > PAL_INIT_MAX || in->len != len ||
      in->opcode != FUSE_INIT)
    return -EINVAL;
  const struct fuse_init_in *arg = (const void *)((const char *)init + sizeof *in);
  if (arg->major != FUSE_KERNEL_VERSION) return -EPROTO;
  memcpy(st->init_req, init, len);
  st->replay_unique = in->unique;
  atomic_store(&st->init_len, (unsigned)len);
  atomic_store(&st->replay, true);
  return 0;
}

size_t pal_io_saved_init(pal_io_state *st, void *out, size_t cap) {
  size_t len = atomic_load(&st->init_len);
  if (len == 0 || len > cap) return 0;
  memcpy(out, st->init_req, len);
  return len;
}

long pal_io_own_handles(pal_io_state *st) { return atomic_load(&st->own_handles); }

/* ---------- open requests in flight: their replies carry handles to tag ----------
 * A thread that reads /dev/fuse processes what it read before it reads again, so an OPEN answered
 * where it was read (the warm path, OPENDIR, libfuse's own errors) is answered before that thread's
 * next read: the thread keeps it in `thread_open`, with no lock shared between the workers. An
 * OPEN handed to JS (pal_io_open_deferred) goes into the session's table, which the thread that
 * answers it searches under the lock. (Until the eighteenth sitting every open went through the
 * table, and every reply searched it while any open was in flight: up to eight lock round trips
 * per open, bounced between the two workers.) */
static _Thread_local struct {
  const pal_io_state *st;
  uint64_t unique;
} thread_open;

static void remember_open(pal_io_state *st, uint64_t unique) {
  pthread_mutex_lock(&st->lock);
  size_t used = atomic_load(&st->opens_used);
  if (used == st->opens_cap && st->opens_cap < OPENS_MAX) {
    size_t cap = st->opens_cap ? st->opens_cap * 2 : 64;
    uint64_t *grown = realloc(st->opens, cap * sizeof *grown);
    if (grown) {
      st->opens = grown;
      st->opens_cap = cap;
    }
  }
  if (used < st->opens_cap) {
    st->opens[used] = unique;
    atomic_store(&st->opens_used, used + 1);
  }
  pthread_mutex_unlock(&st->lock);
}

void pal_io_open_deferred(pal_io_state *st) {
  if (thread_open.st != st || thread_open.unique == 0) return;
  remember_open(st, thread_open.unique);
  thread_open.unique = 0;
}

/* This thread read an OPEN/OPENDIR: its own until answered here or handed over. */
static void read_open(pal_io_state *st, uint64_t unique) {
  pal_io_open_deferred(st); /* one this thread neither answered nor handed over: cannot happen */
  thread_open.st = st;
  thread_open.unique = unique;
}

/* Was `unique` an open? Forgets it either way. Called for every reply: no lock unless an open is
 * waiting for JS. */
static bool take_open(pal_io_state *st, uint64_t unique) {
  if (thread_open.st == st && thread_open.unique == unique) {
    thread_open.unique = 0;
    return true;
  }
  if (atomic_load(&st->opens_used) == 0) return false;
  bool found = false;
  pthread_mutex_lock(&st->lock);
  size_t used = atomic_load(&st->opens_used);
  for (size_t i = 0; i < used; i++) {
    if (st->opens[i] == unique) {
      st->opens[i] = st->opens[used - 1];
      atomic_store(&st->opens_used, used - 1);
      found = true;
      break;
    }
  }
  pthread_mutex_unlock(&st->lock);
  return found;
}

/* Grows a table to hold one more entry (under st->lock). false: full or out of memory. */
static bool room(void **table, size_t *cap, size_t used, size_t size) {
  if (used < *cap) return true;
  if (*cap >= REOPEN_MAX) return false;
  size_t grown_cap = *cap ? *cap * 2 : 16;
  void *grown = realloc(*table, grown_cap * size);
  if (!grown) return false;
  *table = grown;
  *cap = grown_cap;
  return true;
}

/* This session's handle for a foreign one already re-opened, or 0. remove: forget the mapping. */
static uint64_t reopened_local(pal_io_state *st, uint64_t foreign, bool remove) {
  uint64_t local = 0;
  pthread_mutex_lock(&st->lock);
  for (size_t i = 0; i < st->nreopened; i++) {
    if (st->reopened[i].foreign == foreign) {
      local = st->reopened[i].local;
      if (remove) st->reopened[i] = st->reopened[--st->nreopened];
      break;
    }
  }
  pthread_mutex_unlock(&st->lock);
  return local;
}

/* ---------- requests ---------- */

static void reply_here(int fd, uint64_t unique, int err) {
  struct fuse_out_header out = {.len = sizeof out, .error = -err, .unique = unique};
  ssize_t w = write(fd, &out, sizeof out);
  (void)w; /* ENOENT: the caller gave up meanwhile; nothing else to do */
}

/* What inspect() does with a request: pass on n bytes (possibly rewritten), or CONSUMED. */
enum { CONSUMED = 0 };

/* Where a request carries a file handle: offset into its argument, or -1. */
static long fh_offset(const struct fuse_in_header *in, const char *arg, size_t arg_len) {
  switch (in->opcode) {
    case FUSE_READ:
    case FUSE_READDIR:
    case FUSE_READDIRPLUS:
    case FUSE_RELEASE:
    case FUSE_RELEASEDIR:
    case FUSE_FLUSH:
    case FUSE_FSYNC:
    case FUSE_FSYNCDIR:
    case FUSE_WRITE:
    case FUSE_LSEEK:
    case FUSE_IOCTL:
    case FUSE_POLL:
    case FUSE_GETLK:
    case FUSE_SETLK:
    case FUSE_SETLKW:
    case FUSE_FALLOCATE:
    case FUSE_COPY_FILE_RANGE:
      return 0;
    case FUSE_GETATTR:
      if (arg_len >= sizeof(struct fuse_getattr_in) &&
          (((const struct fuse_getattr_in *)arg)->getattr_flags & FUSE_GETATTR_FH))
        return offsetof(struct fuse_getattr_in, fh);
      return -1;
    case FUSE_SETATTR:
      if (arg_len >= sizeof(struct fuse_setattr_in) &&
          (((const struct fuse_setattr_in *)arg)->valid & FATTR_FH))
        return offsetof(struct fuse_setattr_in, fh);
      return -1;
    default:
      return -1;
  }
}

/* A read on a foreign handle not seen before: stash it, and turn the buffer into an OPEN of the
 * same inode by the same caller. Returns the OPEN's length, or CONSUMED (answered EBADF). */
static ssize_t reopen_for_read(pal_io_state *st, int fd, char *buf, size_t n, uint64_t foreign) {
  struct fuse_in_header *in = (void *)buf;
  struct fuse_read_in rd;
  if (n != READ_REQ_LEN || !st->se) {
    reply_here(fd, in->unique, EBADF);
    return CONSUMED;
  }
  memcpy(&rd, buf + sizeof *in, sizeof rd);
  pthread_mutex_lock(&st->lock);
  bool ok = room((void **)&st->pending, &st->pending_cap, st->npending, sizeof *st->pending);
  uint64_t syn = SYN_BIT | ++st->next_syn;
  if (ok) {
    struct pal_pending_read *p = &st->pending[st->npending++];
    p->syn = syn;
    p->foreign = foreign;
    memcpy(p->req, buf, n);
  }
  pthread_mutex_unlock(&st->lock);
  if (!ok) {
    reply_here(fd, in->unique, EBADF);
    return CONSUMED;
  }
  struct fuse_open_in open_in = {.flags = rd.flags & ~(uint32_t)(O_CREAT | O_EXCL | O_TRUNC),
                                 .open_flags = 0};
  in->opcode = FUSE_OPEN;
  in->unique = syn;
  in->len = sizeof *in + sizeof open_in;
  memcpy(buf + sizeof *in, &open_in, sizeof open_in);
  atomic_fetch_add(&st->reopens, 1);
  return in->len;
}

/* A request on a handle of an earlier pald: answered here, or passed on without the handle. */
static ssize_t foreign_handle(pal_io_state *st, int fd, char *buf, size_t n, uint64_t foreign) {
  struct fuse_in_header *in = (void *)buf;
  char *arg = buf + sizeof *in;
  atomic_fetch_add(&st->foreign, 1);
  uint64_t local = 0;
  if (in->opcode == FUSE_READ || in->opcode == FUSE_RELEASE)
    local = reopened_local(st, foreign, in->opcode == FUSE_RELEASE);
  if (local != 0) { /* re-opened: this session's handle serves it, and its release frees it */
    memcpy(arg, &local, sizeof local);
    return (ssize_t)n;
  }
  switch (in->opcode) {
    case FUSE_READ:
      return reopen_for_read(st, fd, buf, n, foreign);
    case FUSE_RELEASE:
    case FUSE_RELEASEDIR:
    case FUSE_FLUSH:
    case FUSE_FSYNC:
    case FUSE_FSYNCDIR:
      reply_here(fd, in->unique, 0); /* nothing of ours to free */
      return CONSUMED;
    case FUSE_GETATTR: /* attributes by inode are as good */
      ((struct fuse_getattr_in *)arg)->getattr_flags &= ~FUSE_GETATTR_FH;
      ((struct fuse_getattr_in *)arg)->fh = 0;
      return (ssize_t)n;
    case FUSE_SETATTR: /* refused as EROFS whatever the handle */
      ((struct fuse_setattr_in *)arg)->valid &= ~FATTR_FH;
      ((struct fuse_setattr_in *)arg)->fh = 0;
      return (ssize_t)n;
    default:
      reply_here(fd, in->unique, EBADF);
      return CONSUMED;
  }
}

/* Decides what happens to one request read from the kernel: the bytes to pass on, or CONSUMED. */
static ssize_t inspect(pal_io_state *st, int fd, char *buf, size_t n) {
  const ssize_t PASS = (ssize_t)n;
  struct fuse_in_header *in = (void *)buf;
  if (n < sizeof *in || in->len != n) return PASS; /* libfuse reports malformed input */
  char *arg = buf + sizeof *in;
  size_t arg_len = n - sizeof *in;
  if (in->opcode == FUSE_INIT) {
    if (atomic_load(&st->init_unique) == 0 && arg_len >= 16) {
      const struct fuse_init_in *init = (const void *)arg;
      atomic_store(&st->kernel_parallel_dirops, (init->flags & FUSE_PARALLEL_DIROPS) != 0);
      uint32_t flags2 = 0;
      if ((init->flags & PAL_INIT_EXT) && arg_len >= PAL_INIT_IN_FLAGS2 + sizeof flags2)
        memcpy(&flags2, arg + PAL_INIT_IN_FLAGS2, sizeof flags2);
      atomic_store(&st->kernel_passthrough, (flags2 & PAL_FLAGS2_PASSTHROUGH) != 0);
      if (n <= PAL_INIT_MAX && !atomic_load(&st->replay)) memcpy(st->init_req, buf, n);
      atomic_store(&st->init_unique, in->unique);
    }
    return PASS;
  }
  if (!st->lock_ready) return PASS;
  long off = fh_offset(in, arg, arg_len);
  if (off >= 0 && arg_len >= (size_t)off + sizeof(uint64_t)) {
    uint64_t fh;
    memcpy(&fh, arg + off, sizeof fh);
    if ((fh >> FH_TAG_SHIFT) != st->gen) return foreign_handle(st, fd, buf, n, fh);
    fh &= FH_PTR_MASK;
    memcpy(arg + off, &fh, sizeof fh);
    if (in->opcode == FUSE_RELEASE || in->opcode == FUSE_RELEASEDIR) atomic_fetch_sub(&st->own_handles, 1);
    if (in->opcode == FUSE_COPY_FILE_RANGE && arg_len >= sizeof(struct fuse_copy_file_range_in))
      ((struct fuse_copy_file_range_in *)arg)->fh_out = 0; /* refused as EROFS; never dereferenced */
    return PASS; /* our own handle: served even while parking, so that it drains */
  }
  if (atomic_load(&st->mode) == PAL_IO_PARK) {
    if (in->opcode == FUSE_FORGET || in->opcode == FUSE_BATCH_FORGET) return PASS;
    /* Read, never answered: the kernel resends it to the next pald (INTERRUPT and the rest). */
    if (in->opcode != FUSE_INTERRUPT) atomic_fetch_add(&st->parked, 1);
    return CONSUMED;
  }
  if (in->opcode == FUSE_OPEN || in->opcode == FUSE_OPENDIR) read_open(st, in->unique);
  return PASS;
}

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata) {
  pal_io_state *st = userdata;
  if (atomic_load(&st->replay) && atomic_exchange(&st->replay, false)) {
    size_t n = atomic_load(&st->init_len);
    if (n <= len) {
      memcpy(buf, st->init_req, n);
      struct fuse_in_header *in = buf;
      atomic_store(&st->kernel_parallel_dirops,
                   (((struct fuse_init_in *)(in + 1))->flags & FUSE_PARALLEL_DIROPS) != 0);
      atomic_store(&st->init_unique, in->unique);
      return (ssize_t)n;
    }
  }
  for (;;) {
    ssize_t n = read(fd, buf, len);
    if (n <= 0) return n;
    ssize_t pass = inspect(st, fd, buf, (size_t)n);
    if (pass != CONSUMED) return pass;
    /* answered or parked here: read the next one (non-blocking: EAGAIN ends the batch) */
  }
}

/* ---------- replies ---------- */

static size_t iov_total(const struct iovec *iov, int count) {
  size_t total = 0;
  for (int i = 0; i < count; i++) total += iov[i].iov_len;
  return total;
}

/* Tells the kernel to queue again what the previous pald read and never answered. */
static void send_resend(pal_io_state *st, int fd) {
  const struct fuse_init_in *init = (const void *)(st->init_req + sizeof(struct fuse_in_header));
  if (init->minor < PAL_RESEND_MINOR) {
    atomic_store(&st->resend, -ENOSYS);
    return;
  }
  struct fuse_out_header out = {.len = sizeof out, .error = FUSE_NOTIFY_RESEND, .unique = 0};
  ssize_t w = write(fd, &out, sizeof out);
  atomic_store(&st->resend, w == (ssize_t)sizeof out ? 1 : -errno);
}

/* The reply to a synthetic OPEN (never the kernel's to see): serve the read that waited for it. */
static ssize_t reopened(pal_io_state *st, int fd, struct iovec *iov, int count) {
  const struct fuse_out_header *out = iov[0].iov_base;
  struct pal_pending_read p;
  bool found = false;
  uint64_t local = 0;
  pthread_mutex_lock(&st->lock);
  for (size_t i = 0; i < st->npending; i++) {
    if (st->pending[i].syn == out->unique) {
      p = st->pending[i];
      st->pending[i] = st->pending[--st->npending];
      found = true;
      break;
    }
  }
  if (found && out->error == 0 && count >= 2 && iov[1].iov_len == sizeof(struct fuse_open_out)) {
    local = ((const struct fuse_open_out *)iov[1].iov_base)->fh;
    if (local != 0 && room((void **)&st->reopened, &st->reopened_cap, st->nreopened, sizeof *st->reopened))
      st->reopened[st->nreopened++] = (struct pal_reopen){.foreign = p.foreign, .local = local};
    else
      local = 0; /* cannot remember it: the read fails rather than leak or guess */
  }
  pthread_mutex_unlock(&st->lock);
  ssize_t total = (ssize_t)iov_total(iov, count);
  if (!found) return total;
  struct fuse_in_header *in = (void *)p.req;
  if (local == 0) {
    reply_here(fd, in->unique, out->error ? -out->error : EBADF); /* e.g. EACCES: denied afresh */
    return total;
  }
  memcpy(p.req + sizeof *in, &local, sizeof local); /* fuse_read_in.fh */
  /* The read goes through libfuse like any other; its reply comes back through io_writev. */
  struct fuse_buf b = {.size = sizeof p.req, .mem = p.req};
  fuse_session_process_buf(st->se, &b);
  return total;
}

/* Our INIT reply asks for passthrough, with backing files one level deep (memfds: tmpfs). */
static void negotiate_passthrough(pal_io_state *st, unsigned char *out) {
  uint32_t flags, flags2, depth = 1;
  memcpy(&flags, out + PAL_INIT_OUT_FLAGS, sizeof flags);
  memcpy(&flags2, out + PAL_INIT_OUT_FLAGS2, sizeof flags2);
  if (flags & FUSE_WRITEBACK_CACHE) return; /* the kernel refuses both together */
  flags |= PAL_INIT_EXT;
  flags2 |= PAL_FLAGS2_PASSTHROUGH;
  memcpy(out + PAL_INIT_OUT_FLAGS, &flags, sizeof flags);
  memcpy(out + PAL_INIT_OUT_FLAGS2, &flags2, sizeof flags2);
  memcpy(out + PAL_INIT_OUT_STACK_DEPTH, &depth, sizeof depth);
  atomic_store(&st->passthrough, true);
  if (st->on_passthrough) st->on_passthrough();
}

static _Thread_local int next_open_backing;

void pal_io_next_open_backing(int id) { next_open_backing = id; }

/* An open reply named a backing: the kernel reads the file from it (direct I/O would override). */
static void open_by_passthrough(struct iovec *iov, int count) {
  int id = next_open_backing;
  next_open_backing = 0;
  const struct fuse_out_header *out = iov[0].iov_base;
  if (id <= 0 || out->error != 0 || count < 2 || iov[1].iov_len != sizeof(struct fuse_open_out)) return;
  struct fuse_open_out *open_out = iov[1].iov_base;
  open_out->open_flags = (open_out->open_flags & ~FOPEN_DIRECT_IO) | PAL_FOPEN_PASSTHROUGH;
  memcpy((unsigned char *)open_out + PAL_OPEN_OUT_BACKING_ID, &id, sizeof id);
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata) {
  pal_io_state *st = userdata;
  const struct fuse_out_header *head = count >= 1 && iov[0].iov_len == sizeof *head ? iov[0].iov_base : NULL;
  if (head && (head->unique & SYN_BIT) && !(head->unique & (UINT64_C(1) << 63)) && st->lock_ready)
    return reopened(st, fd, iov, count);
  const struct fuse_out_header *out = count >= 1 && iov[0].iov_len == sizeof *out ? iov[0].iov_base : NULL;
  uint64_t init_unique = atomic_load(&st->init_unique);
  if (out && init_unique != 0 && init_unique != UINT64_MAX && out->unique == init_unique && count >= 2 &&
      iov[1].iov_len >= offsetof(struct fuse_init_out, flags) + sizeof(uint32_t)) {
    atomic_store(&st->init_unique, UINT64_MAX); /* done: never match again */
    if (st->replay_unique != 0 && out->unique == st->replay_unique) {
      /* The kernel negotiated with the first pald; this reply is libfuse's alone to see. */
      send_resend(st, fd);
      return (ssize_t)iov_total(iov, count);
    }
    if (out->error == 0) {
      if (atomic_load(&st->kernel_parallel_dirops))
        ((struct fuse_init_out *)iov[1].iov_base)->flags |= FUSE_PARALLEL_DIROPS;
      if (st->want_passthrough && atomic_load(&st->kernel_passthrough) &&
          iov[1].iov_len >= PAL_INIT_OUT_STACK_DEPTH + sizeof(uint32_t))
        negotiate_passthrough(st, iov[1].iov_base);
      size_t len = ((const struct fuse_in_header *)st->init_req)->len;
      if (len >= sizeof(struct fuse_in_header) && len <= PAL_INIT_MAX)
        atomic_store(&st->init_len, (unsigned)len);
    }
  }
  bool tagged = false;
  if (out && out->unique != 0 && st->lock_ready && take_open(st, out->unique) && out->error == 0 &&
      count >= 2 && iov[1].iov_len == sizeof(struct fuse_open_out)) {
    struct fuse_open_out *open_out = iov[1].iov_base;
    /* A pointer with high bits set cannot carry the tag: left untagged, later refused as foreign. */
    if ((open_out->fh >> FH_TAG_SHIFT) == 0) {
      open_out->fh |= (uint64_t)st->gen << FH_TAG_SHIFT;
      tagged = true;
    }
  }
  if (next_open_backing && out) open_by_passthrough(iov, count);
  ssize_t res = writev(fd, iov, count);
  if (tagged && res >= 0) atomic_fetch_add(&st->own_handles, 1); /* the kernel took it: it will release it */
  return res;
}

int pal_fuse_install_io(struct fuse_session *se, int fd, pal_io_state *st) {
  static const struct fuse_custom_io io = {.read = io_read, .writev = io_writev};
  st->se = se;
  return fuse_session_custom_io(se, &io, fd);
}
