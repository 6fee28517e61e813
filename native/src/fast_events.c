/* The warm path's event queue (fast_events.h): an array under a mutex, filled by the threads that
 * read /dev/fuse and emptied by the JS thread. Order is kept: JS must hear of an open before its
 * close (both name the same handle number). The array keeps its room across takes, so room
 * reserved for an open stays reserved. */
#include "fast_events.h"

#include <stdlib.h>
#include <string.h>

void pal_events_init(pal_event_queue *q) {
  memset(q, 0, sizeof *q);
  q->text_hint = 16384;
  pthread_mutex_init(&q->lock, NULL);
}

void pal_events_destroy(pal_event_queue *q) {
  free(q->items);
  free(q->text);
  q->items = NULL;
  q->text = NULL;
  q->text_len = q->text_cap = 0;
  q->count = q->cap = q->opens = q->reserved = 0;
  pthread_mutex_destroy(&q->lock);
}

/* Room for `extra` more events beyond those queued and reserved. Lock held. */
static bool room(pal_event_queue *q, size_t extra) {
  size_t need = q->count + q->reserved + extra;
  if (need <= q->cap) return true;
  size_t cap = q->cap ? q->cap : 64;
  while (cap < need) cap *= 2;
  pal_fast_event *grown = realloc(q->items, cap * sizeof *grown);
  if (!grown) return false;
  q->items = grown;
  q->cap = cap;
  return true;
}

bool pal_events_reserve_open(pal_event_queue *q) {
  pthread_mutex_lock(&q->lock);
  bool ok = q->opens < PAL_EVENTS_MAX && room(q, 1);
  if (ok) {
    q->reserved++;
    q->opens++;
  }
  pthread_mutex_unlock(&q->lock);
  return ok;
}

void pal_events_cancel_open(pal_event_queue *q) {
  pthread_mutex_lock(&q->lock);
  if (q->reserved > 0) {
    q->reserved--;
    q->opens--;
  }
  pthread_mutex_unlock(&q->lock);
}

/* The queued open of the handle `e` releases, if JS has not heard of it yet: the latest open of that
 * handle number in that lease, not closed yet (a number is open at most once at a time). Lock held. */
static pal_fast_event *queued_open(pal_event_queue *q, const pal_fast_event *e) {
  size_t stop = q->count > PAL_EVENTS_FOLD_WINDOW ? q->count - PAL_EVENTS_FOLD_WINDOW : 0;
  for (size_t i = q->count; i-- > stop;) {
    pal_fast_event *o = &q->items[i];
    if (o->kind == PAL_EVENT_OPENED && o->fh == e->fh && o->lease == e->lease) return o->closed ? NULL : o;
  }
  return NULL;
}

/* Room for `extra` more bytes of text. Lock held. */
static bool text_room(pal_event_queue *q, size_t extra) {
  size_t need = q->text_len + extra;
  if (need <= q->text_cap) return true;
  size_t cap = q->text_cap ? q->text_cap : q->text_hint; /* the last batch's size: no regrowing */
  while (cap < need) cap *= 2;
  char *grown = realloc(q->text, cap);
  if (!grown) return false;
  q->text = grown;
  q->text_cap = cap;
  return true;
}

int pal_events_push(pal_event_queue *q, const pal_fast_event *e, const char *line, size_t line_len) {
  int res = PAL_EVENTS_LOST;
  pthread_mutex_lock(&q->lock);
  pal_fast_event *open = e->kind == PAL_EVENT_RELEASED ? queued_open(q, e) : NULL;
  if (open) {
    open->closed = e->arg ? 1 : 2;
    q->folded++;
  } else {
    if (e->kind == PAL_EVENT_OPENED && q->reserved > 0)
      q->reserved--; /* its room is there */
    else if (!room(q, 1))
      goto out;
    pal_fast_event *queued = &q->items[q->count++];
    *queued = *e;
    queued->line_len = 0;
    if (line_len > 0 && line_len <= UINT32_MAX && text_room(q, line_len)) {
      memcpy(q->text + q->text_len, line, line_len);
      q->text_len += line_len;
      queued->line_len = (uint32_t)line_len;
      q->lines++;
    }
  }
  res = q->scheduled ? PAL_EVENTS_QUEUED : PAL_EVENTS_FIRST;
  q->scheduled = true;
out:
  pthread_mutex_unlock(&q->lock);
  return res;
}

size_t pal_events_take(pal_event_queue *q, pal_fast_event **out, char **text, size_t *text_len) {
  *out = NULL;
  *text = NULL;
  *text_len = 0;
  pthread_mutex_lock(&q->lock);
  size_t n = q->count;
  if (n > 0 && (*out = malloc(n * sizeof **out)) != NULL) {
    memcpy(*out, q->items, n * sizeof **out);
    /* The text goes whole to the taker; the next line starts a new one. */
    *text = q->text;
    *text_len = q->text_len;
    if (q->text_cap > q->text_hint && q->text_cap <= 262144) q->text_hint = q->text_cap;
    q->text = NULL;
    q->text_len = q->text_cap = 0;
    q->count = 0;
    q->opens = q->reserved; /* the queued ones are JS's now */
    q->batches++;
    q->taken += n;
    q->scheduled = false;
  } else { /* empty, or no memory for the copy: the next event schedules a delivery again */
    q->scheduled = false;
    n = 0;
  }
  pthread_mutex_unlock(&q->lock);
  return n;
}

size_t pal_events_pending(pal_event_queue *q) {
  pthread_mutex_lock(&q->lock);
  size_t n = q->count;
  pthread_mutex_unlock(&q->lock);
  return n;
}

void pal_events_flatten(const pal_fast_event *e, size_t n, double *out) {
  for (size_t i = 0; i < n; i++, e++, out += PAL_EVENT_FIELDS) {
    out[0] = e->kind;
    out[1] = e->pid;
    out[2] = e->uid;
    out[3] = e->gid;
    out[4] = (double)e->ino;
    out[5] = (double)e->fh;
    out[6] = (double)e->lease;
    out[7] = (double)e->arg;
    out[8] = e->time_ms;
    out[9] = e->closed;
    out[PAL_EVENT_LINE_FIELD] = e->line_len;
  }
}
