/* Session I/O for libfuse: read/writev on /dev/fuse, the INIT reply fix-up, and what a pald needs
 * to hand its live session to the next one (see fuse_io.c). */
#ifndef PAL_FUSE_IO_H
#define PAL_FUSE_IO_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fuse_session;

/* The kernel's INIT request is 40 + 64 bytes today; room for growth, never unbounded. */
#define PAL_INIT_MAX 256

enum { PAL_IO_SERVE = 0, PAL_IO_PARK = 1 };

/* Must be the first member of the session's userdata: the I/O callbacks get the userdata. */
typedef struct {
  atomic_uint_fast64_t init_unique; /* unique id of the kernel's INIT request, 0 until seen */
  atomic_bool kernel_parallel_dirops;
  /* FUSE passthrough (passthrough.h): asked for by the mount, offered by the kernel, and so
   * negotiated in our INIT reply. A resumed session never negotiates: the kernel did with the
   * first pald, whose reply we do not know. */
  bool want_passthrough;
  atomic_bool kernel_passthrough;
  atomic_bool passthrough;
  void (*on_passthrough)(void); /* called once it is negotiated (before any open) */
  /* --- handover --- */
  pthread_mutex_t lock; /* guards opens[] and the foreign-handle tables */
  bool lock_ready;
  uint16_t gen; /* tag in the top 16 bits of every file handle this session gives out */
  unsigned char init_req[PAL_INIT_MAX]; /* the kernel's INIT request, as read (for the next pald) */
  atomic_uint init_len;                 /* bytes in init_req; 0 until INIT was answered */
  atomic_bool replay;                   /* takeover: give libfuse init_req before reading the fd */
  uint64_t replay_unique;               /* its unique: the reply to it never reaches the kernel */
  atomic_int resend;                    /* after a takeover: 1 sent, -errno failed, 0 not tried */
  /* Uniques of OPEN/OPENDIR requests answered on another thread than the one that read them (handed
   * to JS: pal_io_open_deferred) and not answered yet; an open answered by the thread that read it
   * is that thread's own (fuse_io.c, "open requests in flight"). */
  uint64_t *opens;
  size_t opens_cap;
  atomic_size_t opens_used; /* written under lock; read without it, to skip the table when empty */
  atomic_long own_handles;  /* handles this session gave out and the kernel has not released */
  atomic_int mode;          /* PAL_IO_SERVE, or PAL_IO_PARK while handing over */
  atomic_long parked;
  atomic_long foreign; /* requests on handles of an earlier pald, answered here */
  /* Reads on an earlier pald's handles: the file is opened again for the caller (see fuse_io.c). */
  struct fuse_session *se;
  struct pal_reopen *reopened; /* foreign handle -> handle of this session */
  size_t nreopened, reopened_cap;
  struct pal_pending_read *pending; /* reads waiting for their re-open */
  size_t npending, pending_cap;
  uint64_t next_syn;
  atomic_long reopens;
} pal_io_state;

/* Before the session exists. gen: this session's handle tag (never 0). */
int pal_io_init(pal_io_state *st, uint16_t gen);
void pal_io_destroy(pal_io_state *st);
/* Takeover: the session starts with this INIT request (what the kernel sent the first pald). */
int pal_io_set_replay(pal_io_state *st, const void *init, size_t len);

/* Installs the I/O on a session (for a takeover: on the inherited fd). Returns 0 or -errno. */
int pal_fuse_install_io(struct fuse_session *se, int fd, pal_io_state *st);

/* Copies the saved INIT request into out (cap bytes): its length, 0 while INIT is unanswered. */
size_t pal_io_saved_init(pal_io_state *st, void *out, size_t cap);
/* Handles the kernel still holds from this session. */
long pal_io_own_handles(pal_io_state *st);
/* The OPEN/OPENDIR this thread read last is about to be answered on another thread (handed to JS):
 * its reply must still get this session's tag. Call before handing it over. */
void pal_io_open_deferred(pal_io_state *st);
/* The open reply this thread sends next names backing `id` (> 0) with FOPEN_PASSTHROUGH, in place
 * of direct I/O; 0 clears it. Set right before fuse_reply_open, cleared right after. */
void pal_io_next_open_backing(int id);

#endif
