/* The warm path in C (DESIGN.md "The warm path"): JavaScript's allow decisions for LOOKUP,
 * GETATTR and OPEN of a secret, replayed for the very caller and generation they were made for. */
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

#include "secure_buffer.h"

#define PAL_FAST_SLOTS 512 /* callers (threads) remembered at once, direct-mapped */
#define PAL_FAST_GRANTS 16 /* secrets remembered per caller */
#define PAL_FAST_NAME_MAX 255
#define PAL_FAST_LEASE_SLOTS 16  /* handles one open lease may hand out at once */
#define PAL_FAST_CGROUP_MAX 4096 /* the longest /proc/<pid>/cgroup text a caller is vouched by */

/* An open decision JS made for one caller and secret, with what it takes to replay it: the shared
 * locked plaintext (one reference) and handle numbers the JS handle ledger booked in advance
 * against the caller's owner (so the per-container handle limit holds without asking JS). A
 * handle taken from it goes back to it on release while the lease lives; once retired (new
 * generation, caller gone or expired), its unused handle numbers are handed back to JS. All
 * fields are guarded by the pal_fast lock. */
typedef struct pal_fast_lease {
  int refs;    /* the grants holding it + each open file handle */
  int holders; /* the grants holding it: its own caller's, and those of callers adopted from it */
  uint64_t id;
  uint64_t opened; /* opens answered from it so far */
  bool retired;
  pal_secmem *content;
  /* The constant part of each open's audit line (audit_line.h), set at creation and never changed
   * (read without the lock by whoever holds a reference). NULL: JS writes the lines. */
  char *audit_tail;
  size_t audit_tail_len;
  unsigned nfree;
  uint64_t free_fh[PAL_FAST_LEASE_SLOTS];
} pal_fast_lease;

/* A retired lease as JS learns it (pal_fast_take_retired): its unused handle numbers go back to
 * the ledger; `in_use` handles are still open and come back one by one with their release. */
typedef struct pal_fast_retired {
  struct pal_fast_retired *next;
  uint64_t lease_id;
  uint64_t opened; /* opens answered from it in all: JS has heard of each or will */
  unsigned in_use;
  unsigned nfree;
  uint64_t free_fh[PAL_FAST_LEASE_SLOTS];
} pal_fast_retired;

typedef struct {
  fuse_ino_t ino; /* 0: unused */
  struct stat attr;
  char name[PAL_FAST_NAME_MAX + 1];
  pal_fast_lease *lease; /* NULL: opens go to JS */
  bool shared;           /* the lease is the sponsor's (an adopted caller's grant): never retired from here */
} pal_fast_grant;

/* A pin on one attested thread: a pidfd (alive while the thread is; one signal-0 syscall per
 * request) or, where pidfds are unavailable, its /proc/<pid>/stat fd (which stops answering once
 * it is gone; its start time is re-read and compared on every request). Counted references: the
 * caller holds one, and a request checking it without the lock holds another, so that forgetting
 * the caller meanwhile cannot close (and the kernel hand out again) the fd being checked. */
typedef struct {
  atomic_int refs;
  int fd;
  bool is_pidfd;
  unsigned long long start_time; /* what a stat pin's fd must still show */
} pal_fast_pin;

/* One caller: the kernel's (pid, uid, gid) (the pid is the calling thread's id), the start time
 * JS attested, and a pin on that very thread. */
typedef struct {
  pal_fast_pin *pin; /* NULL: empty slot */
  pid_t pid;
  uid_t uid;
  gid_t gid;
  unsigned long long start_time;
  uint64_t generation;
  uint64_t expires_ns; /* CLOCK_MONOTONIC: JS's caller reuse window ends here */
  bool used;           /* answered (or asked) since JS last looked: JS re-attests it before expires_ns */
  /* Vouched (pal_fast_vouch): the exact /proc/<pid>/cgroup text JS attributed this container
   * caller by. NULL: no process is adopted from it. */
  char *cgroup;
  size_t cgroup_len;
  /* Adopted (pal_fast_adopt): the sponsor it was adopted from, to mark it used (slot, pid, start). */
  bool adopted;
  size_t sponsor_slot;
  pid_t sponsor_pid;
  unsigned long long sponsor_start;
  unsigned next_grant;
  pal_fast_grant grants[PAL_FAST_GRANTS];
} pal_fast_caller;

/* Counters per request kind, read by JS for the bench and the tests. */
typedef struct {
  atomic_ullong lookup_hits, getattr_hits, misses, fills, refused_fills, gone_callers;
  atomic_ullong pidfd_pins, stat_pins; /* callers pinned each way (fast_path.c pin_process) */
  atomic_ullong open_hits, leases, refused_leases, retired_leases;
  atomic_ullong extended, refused_extends;   /* reuse windows JS extended after attesting again */
  atomic_ullong vouched, adopted, unadopted; /* sponsors named; new processes adopted or sent to JS */
  atomic_ullong to_js[8];                    /* requests handed to JS, by op code */
} pal_fast_stats;

typedef struct {
  pthread_mutex_t lock;
  bool enabled;
  bool force_stat_pins; /* tests only (PAL_TEST_FAST_PIN=stat at enable): no pidfds */
  uint64_t generation;
  pal_fast_stats stats;
  pal_fast_caller *callers; /* PAL_FAST_SLOTS, allocated when enabled */
  /* Processes a first sight did not adopt, at a generation: not looked at again (JS answers them;
   * skipping an adoption is always safe). Direct-mapped like callers. */
  struct pal_fast_tried {
    pid_t pid;
    uid_t uid;
    gid_t gid;
    uint64_t generation;
  } * tried;
  /* The callers with a cgroup text (vouched), nsponsors of them: what a first sight compares is
   * here, so that it touches the caller slot (~7 KB) only of a sponsor of its uid, gid and text. */
  struct pal_fast_sponsor {
    size_t slot;
    uid_t uid;
    gid_t gid;
    uint64_t text_hash; /* FNV-1a of the cgroup text */
  } * sponsors;
  size_t nsponsors;
  pal_fast_retired *retired; /* leases retired since JS last took them, newest first */
  bool retired_signalled;    /* JS was told (or asked) since the list was last emptied */
  /* Set with each retirement: until then pal_fast_should_signal answers without the lock, which
   * every LOOKUP and OPEN would otherwise take once more. */
  atomic_bool signal_due;
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

/* Attaches an open lease to the grant `who` holds for inode `ino`; takes over one reference to
 * `content` on success only. `audit_tail` (copied; NULL or longer than PAL_AUDIT_TAIL_MAX: none)
 * is the constant part of its opens' audit lines. Refused (false) for the same reasons as
 * pal_fast_remember, or when there is no such grant. */
bool pal_fast_lease_open(pal_fast *f, const pal_fast_who *who, fuse_ino_t ino, uint64_t lease_id,
                         pal_secmem *content, const uint64_t *fhs, unsigned nfh, const char *audit_tail,
                         size_t audit_tail_len);

/* An OPEN replayed from a lease: true with a handle number, one more reference to the content
 * and to the lease (both the file handle's, dropped by pal_fast_release). */
typedef struct {
  pal_fast_lease *lease;
  pal_secmem *content;
  uint64_t fh;
  uint64_t lease_id;
} pal_fast_opened; /* the lease's audit tail is read through `lease` while the handle holds it */
bool pal_fast_open(pal_fast *f, const struct fuse_ctx *ctx, fuse_ino_t ino, pal_fast_opened *out);
/* A handle opened from `lease` is closed (or its open was interrupted). True when its number went
 * back to the live lease; false when the lease was retired (JS must give the number back). */
bool pal_fast_release(pal_fast *f, pal_fast_lease *lease, uint64_t fh);
/* Retires every lease (grants for lookup stay): what JS asks before it refuses an open for a
 * limit, so handles booked for leases never make a limit bite earlier than without them. */
void pal_fast_retire_leases(pal_fast *f);
/* Forgets callers whose reuse window is over (their leases go with them). */
void pal_fast_expire(pal_fast *f);
/* Leases retired since the last call (the caller frees the list). */
pal_fast_retired *pal_fast_take_retired(pal_fast *f);
/* True once after leases were retired by a request handler: the handler then tells JS. */
bool pal_fast_should_signal(pal_fast *f);

/* Whether the remembered caller `who` names (pid, uid, gid, start time, at the current generation)
 * sent a request since the last call, which clears it: how JS tells a caller in use from an idle
 * one (only those in use are attested again before their window ends). */
bool pal_fast_take_used(pal_fast *f, const pal_fast_who *who);
/* JS attested `who` again, in full, and got the same answer at who->generation: the caller's reuse
 * window (its grants' and leases') now ends who->remaining_ms from now, or later if it already did
 * (a standing sponsor's deadline is never shortened by a refresh). Refused (false) unless
 * that very caller is remembered at that generation, its window has not ended yet, and its pin
 * still names it (a gone caller is forgotten at once). */
bool pal_fast_extend(pal_fast *f, const pal_fast_who *who);

/* Adoption: the first sight of a process in C. JS vouches for a container caller it attested and
 * remembered, with the cgroup text its resolver read while the caller was pinned: any process with
 * byte-identical cgroup text and the same uid and gid resolves to the same container, identity and
 * labels, and so to the same decisions at the same generation (src/identity/resolver.ts). False
 * when `who` is not remembered at that generation or the text is empty or too long. */
bool pal_fast_vouch(pal_fast *f, const pal_fast_who *who, const char *cgroup, size_t len);

/* Field 22 of /proc/<pid>/stat read from `fd` (the process start time); false when unreadable. */
bool pal_fast_read_start_time(int fd, unsigned long long *out);
#endif
