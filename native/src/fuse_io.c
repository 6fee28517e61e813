/* libfuse 3.14.0 (Debian 12's) computes FUSE_CAP_PARALLEL_DIROPS but never sends
 * FUSE_PARALLEL_DIROPS in its INIT reply (fixed upstream later, libfuse #861). Without it the
 * kernel serialises every lookup in a directory behind a per-directory mutex, so one lookup
 * waiting for a slow JS answer would block all other lookups under /run/pal. We pass the flag
 * ourselves: the session reads and writes /dev/fuse through these callbacks, which note the
 * INIT request and set the flag in its reply when the kernel offered it. */
#define FUSE_USE_VERSION 314
#include "fuse_io.h"

#include <errno.h>
#include <stddef.h>
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata) {
  ssize_t n = read(fd, buf, len);
  pal_io_state *st = userdata;
  if (n >= (ssize_t)(sizeof(struct fuse_in_header) + 16) && atomic_load(&st->init_unique) == 0) {
    const struct fuse_in_header *in = buf;
    if (in->opcode == FUSE_INIT) {
      const struct fuse_init_in *init = (const void *)((const char *)buf + sizeof *in);
      atomic_store(&st->kernel_parallel_dirops, (init->flags & FUSE_PARALLEL_DIROPS) != 0);
      atomic_store(&st->init_unique, in->unique);
    }
  }
  return n;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata) {
  pal_io_state *st = userdata;
  uint64_t init_unique = atomic_load(&st->init_unique);
  if (init_unique != 0 && count >= 2 && iov[0].iov_len == sizeof(struct fuse_out_header) &&
      iov[1].iov_len >= offsetof(struct fuse_init_out, flags) + sizeof(uint32_t)) {
    const struct fuse_out_header *out = iov[0].iov_base;
    if (out->unique == init_unique && out->error == 0) {
      if (atomic_load(&st->kernel_parallel_dirops))
        ((struct fuse_init_out *)iov[1].iov_base)->flags |= FUSE_PARALLEL_DIROPS;
      atomic_store(&st->init_unique, UINT64_MAX); /* done: never match again */
    }
  }
  return writev(fd, iov, count);
}

int pal_fuse_install_io(struct fuse_session *se) {
  static const struct fuse_custom_io io = {.read = io_read, .writev = io_writev};
  return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}
