/* The warm path in C (DESIGN.md "The warm path"): JavaScript's allow decisions for LOOKUP and
 * GETATTR of a secret, replayed for the very caller and generation they were made for. */
#ifndef PAL_FAST_PATH_H
#define PAL_FAST_PATH_H
#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 314
#endif
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#define PAL_FAST_SLOTS 512 /* callers (threads) remembered at once, direct-mapped */
#define PAL_FAST_GRANTS 16 /* secrets remembered per caller */
#define PAL_FAST_NAME_MAX 255

typedef struct {
  fuse_ino_t ino; /* 0: unused */
  struct stat attr;
  char name[PAL_FAST_NAME_MAX + 1];
} pal_fast_grant;

/* One caller: the kernel's (pid, uid, gid), the process start time JS attested, and a pinned
 * /proc/<pid>/stat fd that stops answering when that process is gone. */
typedef struct {
  int stat_fd; /* -1: empty slot */
  pid_t pid;
  uid_t uid;
  gid_t gid;
  unsigned long long start_time;
  uint64_t generation;
  uint64_t expires_ns; /* CLOCK_MONOTONIC: JS's caller reuse window ends here */
  unsigned next_grant;
  pal_fast_grant grants[PAL_FAST_GRANTS];
} pal_fast_caller;

/* Counters per request kind, read by JS for the bench and the tests. */
typedef struct {
  atomic_ullong lookup_hits, getattr_hits, misses, fills, refused_fills, gone_callers;
  atomic_ullong to_js[8]; /* requests handed to JS, by op code */
} pal_fast_stats;

typedef struct {
  pthread_mutex_t lock;
  bool enabled;
  uint64_t generation;
  pal_fast_stats stats;
  pal_fast_caller *callers; /* PAL_FAST_SLOTS, allocated when enabled */
} pal_fast;

void pal_fast_init(pal_fast *f);
void pal_fast_destroy(pal_fast *f);
/* Turning it on or off forgets everything remembered. Returns false when out of memory. */
bool pal_fast_enable(pal_fast *f, bool on);
/* A new generation: every remembered decision is stale from now on. */
void pal_fast_set_generation(pal_fast *f, uint64_t generation);

typedef struct {
  pid_t pid;
  uid_t uid;
  gid_t gid;
  unsigned long long start_time; /* as JS's resolver read it */
  uint64_t generation;           /* when JS began deciding */
  double remaining_ms;           /* of JS's reuse window for this caller */
} pal_fast_who;

/* Remembers that `who` may see `name` (inode attr->st_ino) with `attr`. Refused (false) when the
 * generation moved on meanwhile or the process holding the pid now is not the one JS attested. */
bool pal_fast_remember(pal_fast *f, const pal_fast_who *who, const char *name, const struct stat *attr);

/* The remembered answer for this request's caller, if any (true: *attr filled). */
bool pal_fast_lookup(pal_fast *f, const struct fuse_ctx *ctx, const char *name, struct stat *attr);
bool pal_fast_getattr(pal_fast *f, const struct fuse_ctx *ctx, fuse_ino_t ino, struct stat *attr);

/* Field 22 of /proc/<pid>/stat read from `fd` (the process start time); false when unreadable. */
bool pal_fast_read_start_time(int fd, unsigned long long *out);
#endif
