/* The mount table at one path: /proc/self/mountinfo parsing and clearing dead FUSE mounts. */
#ifndef PAL_MOUNTINFO_H
#define PAL_MOUNTINFO_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The topmost mount at `path` (last line of /proc/self/mountinfo naming it): its device and
 * filesystem type. Returns false when nothing is mounted there. */
bool pal_top_mount_at(const char *path, dev_t *dev, char *fstype, size_t fstype_len);

/* Lazily unmounts dead FUSE mounts at path (stat fails with ENOTCONN: the daemon died). Returns
 * how many were cleared, or -errno when stat fails for another reason. Never call it on a mount
 * of this process (that would deadlock: the JS thread would wait on itself). */
int pal_clear_stale(const char *path);
#endif
