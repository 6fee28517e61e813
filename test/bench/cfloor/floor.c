/* The FUSE floor: the smallest libfuse3 low-level filesystem that serves one 64-byte file,
 * /file, answering every request directly in C. The benchmark compares pal against it.
 * usage: floor MOUNTPOINT [--cache] [--threads N]
 *   default: entry/attr timeouts 0, no negative caching, direct_io and noflush on open (pal's
 *            settings)
 *   --cache: 1 h entry/attr timeouts and keep_cache, page cache allowed (for reference)
 * Uses the same session I/O as pal's addon (native/src/fuse_io.c), which restores the
 * FUSE_PARALLEL_DIROPS flag libfuse 3.14.0 drops, so both run with parallel lookups. */
#define FUSE_USE_VERSION 314
#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuse_io.h"

#define FILE_INO 2

static struct {
  pal_io_state io; /* first: the session I/O gets the userdata as a pal_io_state */
  double timeout;
  int cache;
} fs;

static const char body[64] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n";

static void fill(fuse_ino_t ino, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_ino = ino;
  if (ino == FUSE_ROOT_ID) {
    st->st_mode = S_IFDIR | 0555;
    st->st_nlink = 2;
  } else {
    st->st_mode = S_IFREG | 0444;
    st->st_nlink = 1;
    st->st_size = sizeof body;
  }
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  if (parent != FUSE_ROOT_ID || strcmp(name, "file") != 0) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  struct fuse_entry_param e;
  memset(&e, 0, sizeof e);
  e.ino = FILE_INO;
  e.entry_timeout = e.attr_timeout = fs.timeout;
  fill(FILE_INO, &e.attr);
  fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  struct stat st;
  if (ino != FUSE_ROOT_ID && ino != FILE_INO) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  fill(ino, &st);
  fuse_reply_attr(req, &st, fs.timeout);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  if (ino != FILE_INO) {
    fuse_reply_err(req, EISDIR);
    return;
  }
  fi->direct_io = !fs.cache;
  fi->keep_cache = fs.cache;
  fi->noflush = 1; /* as pal: no FLUSH round trip at close */
  fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi) {
  if (off >= (off_t)sizeof body) {
    fuse_reply_buf(req, NULL, 0);
    return;
  }
  size_t n = sizeof body - (size_t)off;
  fuse_reply_buf(req, body + off, n < size ? n : size);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  fuse_reply_err(req, 0);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops ops = {
    .lookup = op_lookup,
    .getattr = op_getattr,
    .open = op_open,
    .read = op_read,
    .flush = op_flush,
    .release = op_release,
};

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MOUNTPOINT [--cache] [--threads N]\n", argv[0]);
    return 2;
  }
  int threads = 4;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--cache") == 0) fs.cache = 1;
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
  }
  fs.timeout = fs.cache ? 3600.0 : 0.0;
  char *fargv[] = {argv[0], "-o", "ro,nosuid,nodev,noexec,fsname=cfloor,allow_other", NULL};
  struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
  struct fuse_session *se = fuse_session_new(&args, &ops, sizeof ops, &fs);
  if (!se || fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, argv[1]) != 0) return 1;
  if (pal_io_init(&fs.io, 1) != 0 || pal_fuse_install_io(se, fuse_session_fd(se), &fs.io) != 0) return 1;
  printf("ready\n");
  fflush(stdout);
  struct fuse_loop_config *cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(cfg, (unsigned)threads);
  fuse_loop_cfg_set_idle_threads(cfg, (unsigned)threads);
  int rc = fuse_session_loop_mt(se, cfg);
  fuse_loop_cfg_destroy(cfg);
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
  return rc ? 1 : 0;
}
