/* Benchmark client: THREADS threads loop open()+read()+close() on PATH for DURATION_MS after a
 * warm-up, timing each iteration with CLOCK_MONOTONIC. Prints one JSON line:
 *   {"ops":N,"seconds":S,"p50_ns":..,"p99_ns":..,"errors":E}
 * A read returning other than EXPECT bytes counts as an error (so a broken filesystem cannot
 * look fast). Written in C so that the client's own cost is not JavaScript's.
 * usage: client PATH THREADS DURATION_MS WARMUP_MS EXPECT */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES (4u << 20)

static const char *path;
static long expect;
static atomic_int phase; /* 0 warm-up, 1 measuring, 2 stop */

typedef struct {
  pthread_t tid;
  uint32_t *samples; /* latencies in ns, capped at ~4.29 s */
  size_t n;
  uint64_t ops, errors;
} worker;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *run(void *arg) {
  worker *w = arg;
  char buf[4096];
  for (;;) {
    int ph = atomic_load_explicit(&phase, memory_order_relaxed);
    if (ph == 2) break;
    uint64_t t0 = now_ns();
    int fd = open(path, O_RDONLY);
    long got = -1;
    if (fd >= 0) {
      got = read(fd, buf, sizeof buf);
      close(fd);
    }
    uint64_t dt = now_ns() - t0;
    if (ph != 1) continue;
    w->ops++;
    if (got != expect) w->errors++;
    if (w->n < MAX_SAMPLES) w->samples[w->n++] = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
  }
  return NULL;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

static void sleep_ms(long ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s PATH THREADS DURATION_MS WARMUP_MS EXPECT\n", argv[0]);
    return 2;
  }
  path = argv[1];
  int threads = atoi(argv[2]);
  long duration = atol(argv[3]), warmup = atol(argv[4]);
  expect = atol(argv[5]);
  if (threads < 1 || threads > 256 || duration < 1) return 2;
  worker *ws = calloc((size_t)threads, sizeof *ws);
  for (int i = 0; i < threads; i++) {
    ws[i].samples = malloc(MAX_SAMPLES * sizeof(uint32_t));
    if (!ws[i].samples || pthread_create(&ws[i].tid, NULL, run, &ws[i]) != 0) return 1;
  }
  sleep_ms(warmup);
  uint64_t t0 = now_ns();
  atomic_store(&phase, 1);
  sleep_ms(duration);
  atomic_store(&phase, 2);
  uint64_t t1 = now_ns();
  size_t total = 0;
  uint64_t ops = 0, errors = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(ws[i].tid, NULL);
    total += ws[i].n;
    ops += ws[i].ops;
    errors += ws[i].errors;
  }
  uint32_t *all = malloc((total ? total : 1) * sizeof(uint32_t));
  size_t k = 0;
  for (int i = 0; i < threads; i++) {
    memcpy(all + k, ws[i].samples, ws[i].n * sizeof(uint32_t));
    k += ws[i].n;
  }
  qsort(all, total, sizeof(uint32_t), cmp_u32);
  uint32_t p50 = total ? all[total / 2] : 0, p99 = total ? all[(size_t)((double)total * 0.99)] : 0;
  printf("{\"ops\":%llu,\"seconds\":%.6f,\"p50_ns\":%u,\"p99_ns\":%u,\"errors\":%llu}\n",
         (unsigned long long)ops, (double)(t1 - t0) / 1e9, p50, p99, (unsigned long long)errors);
  return 0;
}
