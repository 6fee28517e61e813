/* What an idle spell costs the next request on this machine, in C (no pald, no JavaScript): the
 * first sight of a process as a cold open makes it (pidfd_open, open+read of /proc/<pid>/stat and
 * /proc/<pid>/cgroup, the signal check), timed after `idle_us` of sleep and then again at once.
 * docs/performance.md ("The cold open beside its floor") has the figures.
 *   gcc -O2 -o /tmp/idle-cold test/bench/tools/idle-cold.c && /tmp/idle-cold [idle_us] [rounds] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static char buf[65536];

/* open+read+close of /proc/<pid>/<file>: its time in ns, or -1. */
static long long read_proc(pid_t pid, const char *file) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
  long long t0 = now_ns();
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n;
  size_t len = 0;
  while ((n = read(fd, buf + len, sizeof buf - len)) > 0) len += (size_t)n;
  close(fd);
  return now_ns() - t0;
}

/* One first sight of `pid`: the total, in ns, with each step's time in `steps`. */
static long long first_sight(pid_t pid, long long steps[4]) {
  long long t0 = now_ns();
  int fd = (int)syscall(SYS_pidfd_open, pid, 0);
  steps[0] = now_ns() - t0;
  steps[1] = read_proc(pid, "stat");
  steps[2] = read_proc(pid, "cgroup");
  long long t1 = now_ns();
  if (fd >= 0) syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0);
  steps[3] = now_ns() - t1;
  if (fd >= 0) close(fd);
  return now_ns() - t0;
}

int main(int argc, char **argv) {
  long idle_us = argc > 1 ? atol(argv[1]) : 20000;
  int rounds = argc > 2 ? atoi(argv[2]) : 8;
  for (int i = 0; i < rounds; i++) {
    int gate[2];
    if (pipe(gate) != 0) return 1;
    pid_t child = fork();
    if (child == 0) { /* a new process that waits to be let go */
      char x;
      ssize_t r = read(gate[0], &x, 1);
      _exit(r == 1 ? 0 : 1);
    }
    usleep((useconds_t)idle_us);
    long long cold[4], warm[4];
    long long cold_total = first_sight(child, cold);
    long long warm_total = first_sight(child, warm);
    printf(
        "after %ld us idle: first sight %lld us (pidfd_open %lld, stat %lld, cgroup %lld, signal %lld); "
        "again at once %lld us (stat %lld)\n",
        idle_us, cold_total / 1000, cold[0] / 1000, cold[1] / 1000, cold[2] / 1000, cold[3] / 1000,
        warm_total / 1000, warm[1] / 1000);
    if (write(gate[1], "x", 1) != 1) return 1;
    waitpid(child, NULL, 0);
    close(gate[0]);
    close(gate[1]);
  }
  return 0;
}
