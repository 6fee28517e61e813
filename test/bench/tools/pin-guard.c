/* The warm path's per-request pid-reuse guard alone (native/src/fast_path.c pin_alive), on a real
 * process: a pread of its held /proc/<pid>/stat fd and the parse of field 22 (the stat pin), vs
 * pidfd_send_signal(pidfd, 0) (the pidfd pin until the nineteenth sitting; the JS resolver's guard)
 * vs poll(pidfd, 0) (the pidfd pin since). docs/performance.md has the figures.
 *   gcc -O2 -o /tmp/pin-guard test/bench/tools/pin-guard.c && /tmp/pin-guard [iterations] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

static int start_time(int fd, unsigned long long *out) { /* as pal_fast_read_start_time */
  char buf[1024];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return 0;
  p++;
  for (int field = 3; field <= 22; field++) {
    while (*p == ' ') p++;
    if (!*p) return 0;
    if (field == 22) {
      *out = strtoull(p, NULL, 10);
      return 1;
    }
    while (*p && *p != ' ') p++;
  }
  return 0;
}

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 100000;
  pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)child);
  int stat_fd = open(path, O_RDONLY | O_CLOEXEC);
  int pidfd = (int)syscall(SYS_pidfd_open, child, PIDFD_THREAD);
  if (stat_fd < 0 || pidfd < 0) {
    perror("pin");
    return 1;
  }
  unsigned long long st, sum = 0;
  long failed = 0;
  for (int round = 0; round < 3; round++) {
    double t0 = now_ns();
    for (int i = 0; i < n; i++) failed += !start_time(stat_fd, &st), sum += st;
    double t1 = now_ns();
    for (int i = 0; i < n; i++) failed += syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) != 0;
    double t2 = now_ns();
    for (int i = 0; i < n; i++) {
      struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
      failed += poll(&pfd, 1, 0) != 0;
    }
    double t3 = now_ns();
    printf("round %d, %d checks each: stat pread+parse %.0f ns, pidfd_send_signal(0) %.0f ns, poll(pidfd, 0) %.0f ns\n",
           round, n, (t1 - t0) / n, (t2 - t1) / n, (t3 - t2) / n);
  }
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  return failed || !sum;
}
