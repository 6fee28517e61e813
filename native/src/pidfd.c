/* pidfd_open and the signal-0 liveness check of a pidfd: the pin of a caller in the C warm path
 * and in the JS resolver (src/identity/pin-guards.ts). Closing goes through closeFd. */
#include "pidfd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "napi_util.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL /* Linux 6.9: a pidfd for any thread, not only a thread-group leader */
#endif

static int sys_pidfd_open(pid_t pid, unsigned flags) {
#ifdef SYS_pidfd_open
  return (int)syscall(SYS_pidfd_open, pid, flags);
#else
  (void)pid;
  (void)flags;
  errno = ENOSYS;
  return -1;
#endif
}

int pal_pidfd_open_thread(pid_t tid) {
  int fd = sys_pidfd_open(tid, PIDFD_THREAD);
  /* Before Linux 6.9 (EINVAL for the flag) only a thread-group leader has a pidfd; its number is
   * not reused before its whole group is reaped, so the process's liveness stands for it. */
  if (fd < 0 && errno == EINVAL) fd = sys_pidfd_open(tid, 0);
  return fd;
}

bool pal_pidfd_alive(int pidfd) {
#ifdef SYS_pidfd_send_signal
  return syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0;
#else
  (void)pidfd;
  errno = ENOSYS;
  return false;
#endif
}

/* An int32 argument of at least `min` (1 for a pid, 0 for an fd). */
/* PIDFD_GET_INFO (Linux 6.13, <linux/pidfd.h>): the first published layout, which later kernels
 * still accept (they copy what the caller's size holds). Declared here: build hosts' headers may
 * predate it. */
struct pal_pidfd_info {
  uint64_t mask;
  uint64_t cgroupid;
  uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  uint32_t spare0[1];
};
#define PAL_PIDFD_INFO_PID (1ull << 0)
#define PAL_PIDFD_GET_INFO _IOWR(0xFF, 11, struct pal_pidfd_info)

int pal_pidfd_tgid(int pidfd) {
  struct pal_pidfd_info info;
  memset(&info, 0, sizeof info);
  info.mask = PAL_PIDFD_INFO_PID;
  if (ioctl(pidfd, PAL_PIDFD_GET_INFO, &info) != 0) {
    /* No such ioctl on this kernel (ENOTTY; EINVAL from some older pidfs): cannot tell. */
    if (errno == ENOTTY || errno == EINVAL || errno == EOPNOTSUPP) return 0;
    return -1;
  }
  if (!(info.mask & PAL_PIDFD_INFO_PID) || info.tgid == 0 || info.tgid > 0x7fffffff) return 0;
  return (int)info.tgid;
}

static bool arg_int(napi_env env, napi_value v, const char *name, int64_t min, int *out) {
  int64_t n;
  if (!pal_arg_i64(env, v, name, &n)) return false;
  if (n < min || n > 0x7fffffff) {
    pal_throw(env, "ERR_PAL_ARGS", EINVAL, "%s must be an int32 >= %lld, got %lld", name, (long long)min,
              (long long)n);
    return false;
  }
  *out = (int)n;
  return true;
}

/* pidfdOpen(tid) -> fd. Throws Error{code: 'ERR_PAL_PIDFD', errno} when none can be had. */
static napi_value pidfd_open_js(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  int tid;
  if (!pal_get_args(env, info, 1, argv) || !arg_int(env, argv[0], "tid", 1, &tid)) return NULL;
  int fd = pal_pidfd_open_thread((pid_t)tid);
  if (fd < 0) {
    int e = errno;
    pal_throw(env, "ERR_PAL_PIDFD", e, "pidfd_open(%d): %s", tid, strerror(e));
    return NULL;
  }
  NAPI_TRY(env, napi_create_int32(env, fd, &out));
  return out;
}

/* pidfdAlive(fd) -> true while its thread or process exists, false once it is gone (ESRCH). Any
 * other failure (EBADF, EPERM, ENOSYS...) throws Error{code: 'ERR_PAL_PIDFD', errno}: "cannot
 * tell" is never "alive". */
static napi_value pidfd_alive_js(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  int fd;
  if (!pal_get_args(env, info, 1, argv) || !arg_int(env, argv[0], "fd", 0, &fd)) return NULL;
  bool alive = pal_pidfd_alive(fd);
  if (!alive && errno != ESRCH) {
    int e = errno;
    pal_throw(env, "ERR_PAL_PIDFD", e, "pidfd_send_signal(fd %d, 0): %s", fd, strerror(e));
    return NULL;
  }
  NAPI_TRY(env, napi_get_boolean(env, alive, &out));
  return out;
}

/* pidfdTgid(fd) -> the thread group id of the pidfd's thread, in pald's pid namespace (from the
 * pidfd itself: no /proc read, no pid number); 0 where the kernel cannot tell (before 6.13). Throws
 * Error{code: 'ERR_PAL_PIDFD', errno} otherwise (ESRCH: its thread is gone). */
static napi_value pidfd_tgid_js(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  int fd;
  if (!pal_get_args(env, info, 1, argv) || !arg_int(env, argv[0], "fd", 0, &fd)) return NULL;
  int tgid = pal_pidfd_tgid(fd);
  if (tgid < 0) {
    int e = errno;
    pal_throw(env, "ERR_PAL_PIDFD", e, "ioctl(fd %d, PIDFD_GET_INFO): %s", fd, strerror(e));
    return NULL;
  }
  NAPI_TRY(env, napi_create_int32(env, tgid, &out));
  return out;
}

bool pal_pidfd_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"pidfdOpen", NULL, pidfd_open_js, NULL, NULL, NULL, napi_default, NULL},
      {"pidfdAlive", NULL, pidfd_alive_js, NULL, NULL, NULL, napi_default, NULL},
      {"pidfdTgid", NULL, pidfd_tgid_js, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}
