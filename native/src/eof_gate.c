/* Reads past a file's end wait for the read that holds the end.
 *
 * Before a secret's first decrypt pald does not know its size and tells the kernel an upper bound
 * (src/fs/secret-size.ts). A read through the page cache (sendfile, splice: busybox cat) stops at
 * the kernel's size, which the first short read answer lowers to the real one
 * (fuse_read_update_size). But read-ahead has several READs in flight at once, and the kernel
 * takes a short answer only if no newer size reached it since that READ was sent: when the READ
 * past the end (say at 384 KiB, answered with nothing) is answered before the one that holds the
 * end (256-384 KiB, short at 300 KiB) - two threads answer them side by side - the kernel sets the
 * size to 384 KiB, ignores the later answer as stale, and the reader gets the plaintext and then
 * zeros up to 384 KiB.
 *
 * So while the kernel may hold a bound (JS says so when it answers the open that decrypted), a
 * READ that starts past the true end is not answered until a READ that holds the end was: that
 * answer sets the kernel's size, and the held answer (nothing, and stale) changes nothing. The
 * request is parked here, not a thread: no reader waits. A held read waits at most
 * PAL_EOF_HOLD_NS (a read past the end with no read of the end in flight), then the gate goes. */
#include "eof_gate.h"

#include <stdlib.h>

struct pal_eof_gate {
  pal_eof_gate *next;
  fuse_ino_t ino;
  uint64_t length;
  uint64_t armed_until_ns;
  uint64_t held_until_ns; /* the first held read's deadline (set while nheld > 0: answering drops the gate) */
  fuse_req_t held[PAL_EOF_HELD_MAX];
  int nheld;
};

void pal_eof_gates_init(pal_eof_gates *g) {
  pthread_mutex_init(&g->lock, NULL);
  atomic_init(&g->armed, 0);
  g->head = NULL;
  g->count = 0;
  g->closed = false;
}

/* Unlinks *link's gate and moves its held reads to out[] (*nout grows). Lock held. */
static void drop(pal_eof_gates *g, pal_eof_gate **link, fuse_req_t *out, int *nout) {
  pal_eof_gate *gate = *link;
  *link = gate->next;
  for (int i = 0; i < gate->nheld; i++) out[(*nout)++] = gate->held[i];
  free(gate);
  g->count--;
  atomic_store(&g->armed, g->count);
}

/* Outside the lock: the answers (nothing) the kernel was waiting for. */
static void answer_empty(fuse_req_t *reqs, int n) {
  for (int i = 0; i < n; i++) fuse_reply_buf(reqs[i], NULL, 0);
}

void pal_eof_gates_close(pal_eof_gates *g) {
  pthread_mutex_lock(&g->lock);
  g->closed = true;
  while (g->head) {
    fuse_req_t out[PAL_EOF_HELD_MAX];
    int n = 0;
    drop(g, &g->head, out, &n);
    answer_empty(out, n);
  }
  pthread_mutex_unlock(&g->lock);
}

void pal_eof_gates_destroy(pal_eof_gates *g) {
  while (g->head) {
    pal_eof_gate *next = g->head->next;
    free(g->head); /* close() answered its reads; none is held past it */
    g->head = next;
  }
  pthread_mutex_destroy(&g->lock);
}

static pal_eof_gate **find(pal_eof_gates *g, fuse_ino_t ino) {
  pal_eof_gate **link = &g->head;
  while (*link && (*link)->ino != ino) link = &(*link)->next;
  return link;
}

void pal_eof_gate_arm(pal_eof_gates *g, fuse_ino_t ino, uint64_t length, uint64_t now_ns) {
  fuse_req_t out[PAL_EOF_HELD_MAX];
  int n = 0;
  pthread_mutex_lock(&g->lock);
  pal_eof_gate **link = find(g, ino);
  pal_eof_gate *gate = *link;
  if (!gate && !g->closed) {
    if (g->count >= PAL_EOF_GATES_MAX) {
      /* Full: the oldest (last; new gates go first) goes, as if its time were up. */
      pal_eof_gate **last = &g->head;
      while ((*last)->next) last = &(*last)->next;
      drop(g, last, out, &n);
    }
    gate = calloc(1, sizeof *gate);
    if (gate) {
      gate->ino = ino;
      gate->next = g->head;
      g->head = gate;
      g->count++;
      atomic_store(&g->armed, g->count);
    }
  }
  if (gate) {
    gate->length = length;
    gate->armed_until_ns = now_ns + PAL_EOF_ARM_NS;
  }
  pthread_mutex_unlock(&g->lock);
  answer_empty(out, n);
}

bool pal_eof_gate_hold(pal_eof_gates *g, fuse_ino_t ino, uint64_t off, fuse_req_t req, uint64_t now_ns) {
  if (atomic_load_explicit(&g->armed, memory_order_acquire) == 0) return false;
  bool held = false;
  pthread_mutex_lock(&g->lock);
  pal_eof_gate *gate = *find(g, ino);
  /* off == length is the end itself: its (empty) answer sets the size right. */
  if (gate && off > gate->length && now_ns < gate->armed_until_ns && gate->nheld < PAL_EOF_HELD_MAX) {
    if (gate->nheld == 0) gate->held_until_ns = now_ns + PAL_EOF_HOLD_NS;
    gate->held[gate->nheld++] = req;
    held = true;
  }
  pthread_mutex_unlock(&g->lock);
  return held;
}

void pal_eof_gate_answered(pal_eof_gates *g, fuse_ino_t ino, uint64_t off, uint64_t size) {
  if (atomic_load_explicit(&g->armed, memory_order_acquire) == 0) return;
  fuse_req_t out[PAL_EOF_HELD_MAX];
  int n = 0;
  pthread_mutex_lock(&g->lock);
  pal_eof_gate **link = find(g, ino);
  /* A short answer that ends at the true end (the kernel took it: it is answered already). */
  if (*link && off <= (*link)->length && (*link)->length < off + size) drop(g, link, out, &n);
  pthread_mutex_unlock(&g->lock);
  answer_empty(out, n);
}

uint64_t pal_eof_gates_expire(pal_eof_gates *g, uint64_t now_ns) {
  if (atomic_load_explicit(&g->armed, memory_order_acquire) == 0) return 0;
  uint64_t next = 0;
  pthread_mutex_lock(&g->lock);
  for (pal_eof_gate **link = &g->head; *link;) {
    pal_eof_gate *gate = *link;
    bool hold_over = gate->nheld > 0 && now_ns >= gate->held_until_ns;
    bool arm_over = gate->nheld == 0 && now_ns >= gate->armed_until_ns;
    if (hold_over || arm_over) {
      fuse_req_t out[PAL_EOF_HELD_MAX];
      int n = 0;
      drop(g, link, out, &n);
      answer_empty(out, n); /* under the lock: rare, and a reply never waits on this lock */
      continue;
    }
    if (gate->nheld > 0 && (next == 0 || gate->held_until_ns < next)) next = gate->held_until_ns;
    link = &gate->next;
  }
  pthread_mutex_unlock(&g->lock);
  return next;
}
