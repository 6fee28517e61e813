/* One open+read+close, timed; run as a new process in a new container, so nothing of it is cached
 * (the pald bench's cold rows and test/bench/tools/cold-probe.ts). Prints {"ns":…,"bytes":…}. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  char buf[4096];
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  int fd = open(argv[1], O_RDONLY);
  long got = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
  if (fd >= 0) close(fd);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("{\"ns\":%lld,\"bytes\":%ld}\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec), got);
  return got >= 0 ? 0 : 1;
}
