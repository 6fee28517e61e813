/* Reads past a file's end, held until the read that holds the end was answered (see eof_gate.c). */
#ifndef PAL_EOF_GATE_H
#define PAL_EOF_GATE_H
#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 314
#endif
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Gates at once (one per inode whose size the kernel may hold too high); an older one goes first. */
#define PAL_EOF_GATES_MAX 64
/* Reads held per gate; beyond that a read is answered at once (the behaviour without a gate). */
#define PAL_EOF_HELD_MAX 16
/* How long a read past the end waits for the read that holds the end: in the race it guards the
 * two are in flight together, answered microseconds apart; only a read past the end with no read
 * of the end in flight waits this long, once per gate. */
#define PAL_EOF_HOLD_NS (1000ull * 1000 * 1000)
/* How long a gate stays armed when nothing reads to the end (a caller that read a few bytes). */
#define PAL_EOF_ARM_NS (60ull * 1000 * 1000 * 1000)

typedef struct pal_eof_gate pal_eof_gate;

typedef struct {
  pthread_mutex_t lock;
  atomic_int armed; /* gates in use: 0 lets every read skip the lock */
  pal_eof_gate *head;
  int count;
  bool closed; /* the session stops: nothing is armed or held any more */
} pal_eof_gates;

void pal_eof_gates_init(pal_eof_gates *g);
/* The session stops serving: answers every held read (empty) and arms nothing more. Call while the
 * session can still answer. */
void pal_eof_gates_close(pal_eof_gates *g);
/* Frees what is left (after close). */
void pal_eof_gates_destroy(pal_eof_gates *g);
/* The kernel was told a size above this inode's true `length` (a bound, before the first decrypt
 * learnt the size): arm (or re-arm) its gate. */
void pal_eof_gate_arm(pal_eof_gates *g, fuse_ino_t ino, uint64_t length, uint64_t now_ns);
/* Before answering a read of `ino` at `off` with nothing: true if the gate took the request (it
 * starts past the end, and the read that holds the end has not been answered yet). The caller
 * must then wake the timer (pal_eof_gates_expire) and must not answer it. */
bool pal_eof_gate_hold(pal_eof_gates *g, fuse_ino_t ino, uint64_t off, fuse_req_t req, uint64_t now_ns);
/* After answering a read of `size` bytes asked at `off`: if it held the end, the kernel knows the
 * true size now; the gate goes and its held reads are answered. */
void pal_eof_gate_answered(pal_eof_gates *g, fuse_ino_t ino, uint64_t off, uint64_t size);
/* Answers held reads whose wait is over and drops gates past their time. Returns the next
 * deadline (monotonic ns) of a held read, 0 when none is held. */
uint64_t pal_eof_gates_expire(pal_eof_gates *g, uint64_t now_ns);

#endif
