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
 *    (another secret's memory could be served). Requests on such foreign handles are answered
 *    here: release/flush succeed, everything else is EBADF;
 *  - while handing over (PAL_IO_PARK), requests on this session's own open handles are still
 *    served so that they drain, and every other request is read but left unanswered: the kernel
 *    keeps it and resends it to the next pald. */
#define FUSE_USE_VERSION 314
#include "fuse_io.h"

#include <errno.h>
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
#define FH_TAG_SHIFT 48
#define FH_PTR_MASK ((UINT64_C(1) << FH_TAG_SHIFT) - 1)
#define OPENS_MAX 65536 /* opens in flight that get tagged; beyond, handles stay untagged (EBADF later) */

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

long pal_io_own_handles(pal_io_state *st) {
  pthread_mutex_lock(&st->lock);
  long n = st->own_handles;
  pthread_mutex_unlock(&st->lock);
  return n;
}

/* ---------- open requests in flight: their replies carry handles to tag ---------- */

static void remember_open(pal_io_state *st, uint64_t unique) {
  pthread_mutex_lock(&st->lock);
  if (st->opens_used == st->opens_cap && st->opens_cap < OPENS_MAX) {
    size_t cap = st->opens_cap ? st->opens_cap * 2 : 64;
    uint64_t *grown = realloc(st->opens, cap * sizeof *grown);
    if (grown) {
      st->opens = grown;
      st->opens_cap = cap;
    }
  }
  if (st->opens_used < st->opens_cap) st->opens[st->opens_used++] = unique;
  pthread_mutex_unlock(&st->lock);
}

/* Was `unique` an open? Forgets it either way. Called for every reply: cheap when none is in flight. */
static bool take_open(pal_io_state *st, uint64_t unique) {
  bool found = false;
  pthread_mutex_lock(&st->lock);
  for (size_t i = 0; i < st->opens_used; i++) {
    if (st->opens[i] == unique) {
      st->opens[i] = st->opens[--st->opens_used];
      found = true;
      break;
    }
  }
  pthread_mutex_unlock(&st->lock);
  return found;
}

/* ---------- requests ---------- */

static void reply_here(int fd, uint64_t unique, int err) {
  struct fuse_out_header out = {.len = sizeof out, .error = -err, .unique = unique};
  ssize_t w = write(fd, &out, sizeof out);
  (void)w; /* ENOENT: the caller gave up meanwhile; nothing else to do */
}

enum { PASS, CONSUMED };

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

/* A request on a handle of an earlier pald: answered here, or passed on without the handle. */
static int foreign_handle(pal_io_state *st, int fd, struct fuse_in_header *in, char *arg) {
  atomic_fetch_add(&st->foreign, 1);
  switch (in->opcode) {
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
      return PASS;
    case FUSE_SETATTR: /* refused as EROFS whatever the handle */
      ((struct fuse_setattr_in *)arg)->valid &= ~FATTR_FH;
      ((struct fuse_setattr_in *)arg)->fh = 0;
      return PASS;
    default:
      reply_here(fd, in->unique, EBADF);
      return CONSUMED;
  }
}

/* Decides what happens to one request read from the kernel. */
static int inspect(pal_io_state *st, int fd, char *buf, size_t n) {
  struct fuse_in_header *in = (void *)buf;
  if (n < sizeof *in || in->len != n) return PASS; /* libfuse reports malformed input */
  char *arg = buf + sizeof *in;
  size_t arg_len = n - sizeof *in;
  if (in->opcode == FUSE_INIT) {
    if (atomic_load(&st->init_unique) == 0 && arg_len >= 16) {
      const struct fuse_init_in *init = (const void *)arg;
      atomic_store(&st->kernel_parallel_dirops, (init->flags & FUSE_PARALLEL_DIROPS) != 0);
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
    if ((fh >> FH_TAG_SHIFT) != st->gen) return foreign_handle(st, fd, in, arg);
    fh &= FH_PTR_MASK;
    memcpy(arg + off, &fh, sizeof fh);
    if (in->opcode == FUSE_RELEASE || in->opcode == FUSE_RELEASEDIR) {
      pthread_mutex_lock(&st->lock);
      st->own_handles--;
      pthread_mutex_unlock(&st->lock);
    }
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
  if (in->opcode == FUSE_OPEN || in->opcode == FUSE_OPENDIR) remember_open(st, in->unique);
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
    if (inspect(st, fd, buf, (size_t)n) == PASS) return n;
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

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata) {
  pal_io_state *st = userdata;
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
      size_t len = ((const struct fuse_in_header *)st->init_req)->len;
      if (len >= sizeof(struct fuse_in_header) && len <= PAL_INIT_MAX)
        atomic_store(&st->init_len, (unsigned)len);
    }
  }
  bool tagged = false;
  if (out && out->unique != 0 && st->lock_ready && st->opens_used != 0 && take_open(st, out->unique) &&
      out->error == 0 && count >= 2 && iov[1].iov_len == sizeof(struct fuse_open_out)) {
    struct fuse_open_out *open_out = iov[1].iov_base;
    /* A pointer with high bits set cannot carry the tag: left untagged, later refused as foreign. */
    if ((open_out->fh >> FH_TAG_SHIFT) == 0) {
      open_out->fh |= (uint64_t)st->gen << FH_TAG_SHIFT;
      tagged = true;
    }
  }
  ssize_t res = writev(fd, iov, count);
  if (tagged && res >= 0) { /* the kernel took the handle: it will release it */
    pthread_mutex_lock(&st->lock);
    st->own_handles++;
    pthread_mutex_unlock(&st->lock);
  }
  return res;
}

int pal_fuse_install_io(struct fuse_session *se, int fd) {
  static const struct fuse_custom_io io = {.read = io_read, .writev = io_writev};
  return fuse_session_custom_io(se, &io, fd);
}
