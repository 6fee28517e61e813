/* Pidfds for pinning a caller: the thread (or, before Linux 6.9, the process) a pid names now,
 * held by its struct pid so that a reused number is never taken for it. Shared by the C warm path
 * (fast_path.c) and the JS resolver (through pidfdOpen / pidfdAlive). */
#ifndef PAL_PIDFD_H
#define PAL_PIDFD_H
#include <node_api.h>
#include <stdbool.h>
#include <sys/types.h>

/* A pidfd for the thread `tid` (PIDFD_THREAD, Linux 6.9+); where the kernel rejects the flag
 * (EINVAL), a plain pidfd, which only a thread-group leader has. -1 with errno otherwise (ESRCH: no
 * such thread; EINVAL: a non-leader thread on an older kernel; ENOSYS; EMFILE...). Close-on-exec. */
int pal_pidfd_open_thread(pid_t tid);

/* true while the thread or process the pidfd names exists, zombies included (a zombie keeps its pid
 * number until reaped, so no other process can hold it meanwhile). false with errno set otherwise:
 * ESRCH once it is reaped, whatever now holds its number; EPERM and others when it cannot be
 * asked. Signal 0 sends nothing; flags 0 scope the check to the pidfd's own kind (a thread for a
 * PIDFD_THREAD pidfd, kernel/signal.c). */
bool pal_pidfd_alive(int pidfd);

/* true while the thread (a PIDFD_THREAD pidfd) or process the pidfd names has not exited: a poll
 * of the pidfd with no wait, which says POLLIN once it exited (kernel/pid.c pidfd_poll). false
 * with errno ESRCH once it exited, a zombie included (stricter than pal_pidfd_alive: a zombie's
 * number is not free yet, but no request comes from it); false with poll's errno when it could
 * not be asked. The warm path's per-request pin check: ≈ 10-20% cheaper than a signal 0, which
 * also runs the permission checks and the audit subsystem's signal hook
 * (test/bench/tools/pin-guard.c). */
bool pal_pidfd_running(int pidfd);

/* The thread group id of the pidfd's thread (PIDFD_GET_INFO, Linux 6.13+); 0 where the kernel
 * cannot tell; -1 with errno otherwise (ESRCH: gone). */
int pal_pidfd_tgid(int pidfd);

/* Reads /proc/<tid>/<file> whole into buf (at most max - 1 bytes: a full buffer is EFBIG, like
 * procfs.ts readProcFile). Returns the length, or -1 with errno. */
ssize_t pal_read_proc_file(pid_t tid, const char *file, char *buf, size_t max);

/* The pinned first sight of the thread `tid`, as the JS resolver and the warm path's adoption both
 * take it: a pidfd (pal_pidfd_open_thread), then /proc/<tid>/stat and /proc/<tid>/cgroup read by
 * number into the buffers (at most max - 1 bytes each, see pal_read_proc_file), then the signal
 * check: alive after the reads means the pinned thread held the number throughout them. Returns
 * the pidfd (the caller closes it), or -1 with errno and the pidfd closed; `step` names what failed
 * ("open", "stat", "cgroup", "alive"). */
int pal_pidfd_pin_read(pid_t tid, char *stat, size_t stat_max, ssize_t *stat_len, char *cgroup,
                       size_t cgroup_max, ssize_t *cgroup_len, const char **step);

/* pidfdOpen(tid) -> fd ; pidfdAlive(fd) -> bool (false: gone, ESRCH; throws on other errors) ;
 * pidfdTgid(fd) -> tgid, 0 when the kernel cannot tell ; pidfdPinRead(tid) -> {fd, stat, cgroup,
 * tgid}: the three above and the reads of /proc/<tid>/stat and cgroup, in one call. */
bool pal_pidfd_init(napi_env env, napi_value exports);
#endif
