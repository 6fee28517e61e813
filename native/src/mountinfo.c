/* /proc/self/mountinfo at one path, and clearing the dead FUSE mounts a crashed daemon left. */
#include "mountinfo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/* Undo mountinfo's octal escapes (\040 for space etc.) in place. */
static void unescape_mountinfo(char *s) {
  char *w = s;
  for (char *r = s; *r;) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
        r[3] <= '7') {
      *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
      r += 4;
    } else {
      *w++ = *r++;
    }
  }
  *w = 0;
}

bool pal_top_mount_at(const char *path, dev_t *dev, char *fstype, size_t fstype_len) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) return false;
  char *line = NULL;
  size_t cap = 0;
  bool found = false;
  while (getline(&line, &cap, f) > 0) {
    unsigned maj, min;
    char mp[4096], type[256];
    /* id parent maj:min root mountpoint opts... - fstype source superopts */
    if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &maj, &min, mp) != 3) continue;
    char *sep = strstr(line, " - ");
    if (!sep || sscanf(sep + 3, "%255s", type) != 1) continue;
    unescape_mountinfo(mp);
    if (strcmp(mp, path) != 0) continue;
    found = true;
    *dev = makedev(maj, min);
    snprintf(fstype, fstype_len, "%s", type);
  }
  free(line);
  fclose(f);
  return found;
}

int pal_clear_stale(const char *path) {
  int cleared = 0;
  for (int i = 0; i < 16; i++) {
    struct stat st;
    if (stat(path, &st) == 0) return cleared;
    int e = errno;
    if (e != ENOTCONN && e != ECONNABORTED) return -e;
    if (umount2(path, MNT_DETACH) != 0) return -errno;
    cleared++;
  }
  return cleared;
}
