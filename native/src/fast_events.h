/* What the warm path tells JavaScript after the fact (an OPEN answered from a lease, the close of
 * such a handle, leases retired by a request handler), queued in C and taken by JS in batches: one
 * call into JS per batch instead of one per event (see fuse_bridge.c, "event batches"). */
#ifndef PAL_FAST_EVENTS_H
#define PAL_FAST_EVENTS_H
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Opens queued at most: beyond it an open is answered by JS (which takes the queue first), so a
 * JS thread that does not keep up makes the warm path slower, never lossy. Releases are always
 * queued: there are never more of them than handles opened. */
#define PAL_EVENTS_MAX 4096
/* Doubles per event in the array JS gets: kind, pid, uid, gid, ino, fh, lease, arg, time (ms),
 * closed, line bytes. */
#define PAL_EVENT_FIELDS 11
#define PAL_EVENT_LINE_FIELD 10 /* the last: an opened event's line bytes */
/* How far back from the queue's end a release looks for its open to fold into (pal_events_push):
 * with N clients an open's close comes about N events after it. */
#define PAL_EVENTS_FOLD_WINDOW 64

enum { PAL_EVENT_OPENED = 8, PAL_EVENT_RELEASED, PAL_EVENT_RETIRED }; /* = the OP_FAST_* codes */

typedef struct {
  int kind;
  pid_t pid;
  uid_t uid;
  gid_t gid;
  uint64_t ino, fh, lease;
  int64_t arg;       /* opened: latency in µs; released: 1 if the number went back to the live lease */
  double time_ms;    /* opened: wall clock (ms since the epoch) when the open was answered */
  int closed;        /* opened: 0 still open; its release folded in: 1 number back to the lease, 2 not */
  uint32_t line_len; /* opened: bytes of its audit line in the queue's text (0: JS writes the line) */
} pal_fast_event;

typedef struct {
  pthread_mutex_t lock;
  pal_fast_event *items;
  size_t count, cap;
  size_t opens;                      /* opens queued or reserved */
  size_t reserved;                   /* slots held for opens about to be queued */
  bool scheduled;                    /* a delivery is under way (timer armed or the JS thread told) */
  unsigned long long batches, taken; /* takes that found events, and the events they took */
  unsigned long long folded;         /* releases folded into their open's event */
  unsigned long long lines;          /* audit lines the addon wrote (the rest JS wrote) */
  /* The audit lines of the queued opens the addon wrote (audit_line.h), in the events' order. */
  char *text;
  size_t text_len, text_cap;
  size_t text_hint; /* room a batch's text took so far: a new text starts with it */
} pal_event_queue;

void pal_events_init(pal_event_queue *q);
void pal_events_destroy(pal_event_queue *q);

/* Room for one open's event, taken before the open is answered (so that an answered open always
 * gets its event): false with PAL_EVENTS_MAX opens queued, or out of memory. */
bool pal_events_reserve_open(pal_event_queue *q);
void pal_events_cancel_open(pal_event_queue *q);

enum { PAL_EVENTS_LOST = -1, PAL_EVENTS_QUEUED = 0, PAL_EVENTS_FIRST = 1 };
/* Queues one event (an open: into the room reserved for it, never lost), with an open's audit line
 * (`line`, `line_len` bytes; none: NULL, 0): kept in the queue's text, or, out of memory, left for
 * JS to write (the event's line_len is 0). A release whose open is
 * still queued (JS has not heard of it) is folded into the open's event instead: JS then counts the
 * handle opened and closed at once, where the close would otherwise cost it a second event.
 * PAL_EVENTS_FIRST: no delivery was scheduled, the caller schedules one. LOST: a release or
 * retirement, out of memory. */
int pal_events_push(pal_event_queue *q, const pal_fast_event *e, const char *line, size_t line_len);
/* A copy of everything queued, in order (the caller frees *out), and the queue emptied; clears
 * `scheduled`. 0 when empty (or, events kept, out of memory). The queued audit lines go with them
 * (*text, *text_len; the caller frees *text, NULL when none). */
size_t pal_events_take(pal_event_queue *q, pal_fast_event **out, char **text, size_t *text_len);
size_t pal_events_pending(pal_event_queue *q);
/* Flattens n events into PAL_EVENT_FIELDS doubles each. */
void pal_events_flatten(const pal_fast_event *e, size_t n, double *out);
#endif
