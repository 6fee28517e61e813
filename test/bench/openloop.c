/* open+read+close of one file, a fixed number of times (for instruction counts per open). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc != 3) return 2;
  long n = atol(argv[2]), bad = 0;
  char buf[4096];
  for (long i = 0; i < n; i++) {
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0 || read(fd, buf, sizeof buf) <= 0) bad++;
    if (fd >= 0) close(fd);
  }
  printf("%ld %ld\n", n, bad);
  return bad != 0;
}
