/* pidfd_open and the liveness checks of a pidfd: the pin of a caller in the C warm path (a poll)
 * and in the JS resolver (a signal 0, src/identity/pin-guards.ts). Closing goes through closeFd. */
#include "pidfd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
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

bool pal_pidfd_running(int pidfd) {
  struct pollfd p = {.fd = pidfd, .events = POLLIN};
  int n = poll(&p, 1, 0);
  if (n == 0) return true;
  if (n > 0) errno = (p.revents & POLLNVAL) ? EBADF : ESRCH;
  return false;
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

/* The one-call first sight of a caller (pidfdPinRead): a pidfd for the thread, its stat and cgroup
 * read by number while the pidfd is held, then the signal check. Each step on the JS side is its own
 * N-API hop, and each is cold (50-600 us) when a new process first asks; here they are one. */

#define PAL_STAT_MAX 4096          /* a stat line is ~300 bytes; comm is at most 64 */
#define PAL_CGROUP_MAX (64 * 1024) /* procfs.ts READ_BUFFER: the bound of every other /proc read */

/* One buffer per thread (a worker-thread pald has its own): the text is copied into a JS string
 * before the call returns. */
static _Thread_local char pin_read_buf[PAL_CGROUP_MAX];

ssize_t pal_read_proc_file(pid_t tid, const char *file, char *buf, size_t max) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", (int)tid, file);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, buf + len, max - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      errno = e;
      return -1;
    }
    if (n == 0) break;
    len += (size_t)n;
    if (len == max) {
      close(fd);
      errno = EFBIG;
      return -1;
    }
  }
  close(fd);
  return (ssize_t)len;
}

int pal_pidfd_pin_read(pid_t tid, char *stat, size_t stat_max, ssize_t *stat_len, char *cgroup,
                       size_t cgroup_max, ssize_t *cgroup_len, const char **step) {
  int fd = pal_pidfd_open_thread(tid);
  if (fd < 0) {
    *step = "open";
    return -1;
  }
  *step = "stat";
  if ((*stat_len = pal_read_proc_file(tid, "stat", stat, stat_max)) < 0) goto fail;
  *step = "cgroup";
  if ((*cgroup_len = pal_read_proc_file(tid, "cgroup", cgroup, cgroup_max)) < 0) goto fail;
  /* After the reads: alive now means the pinned thread held the number throughout them. */
  *step = "alive";
  if (!pal_pidfd_alive(fd)) goto fail;
  return fd;
fail:;
  int e = errno;
  close(fd);
  errno = e;
  return -1;
}

/* Throws Error{code: 'ERR_PAL_PIDFD', errno, step}: `step` says which of open, stat, cgroup, tgid,
 * alive failed, so that pin-guards.ts keeps each errno's meaning of the step-by-step path. */
static void throw_step(napi_env env, const char *step, int e, pid_t tid) {
  pal_throw(env, "ERR_PAL_PIDFD", e, "pin-read %s of %d: %s", step, (int)tid, strerror(e));
  napi_value err, jstep;
  if (napi_get_and_clear_last_exception(env, &err) != napi_ok) return;
  if (napi_create_string_utf8(env, step, NAPI_AUTO_LENGTH, &jstep) == napi_ok)
    napi_set_named_property(env, err, "step", jstep);
  napi_throw(env, err);
}

static bool set_latin1(napi_env env, napi_value obj, const char *name, const char *text, size_t len) {
  napi_value v;
  return napi_create_string_latin1(env, text, len, &v) == napi_ok &&
         napi_set_named_property(env, obj, name, v) == napi_ok;
}

static bool set_int(napi_env env, napi_value obj, const char *name, int n) {
  napi_value v;
  return napi_create_int32(env, n, &v) == napi_ok && napi_set_named_property(env, obj, name, v) == napi_ok;
}

/* pidfdPinRead(tid) -> {fd, stat, cgroup, tgid}: pal_pidfd_pin_read (the pidfd, the latin1 text of
 * /proc/<tid>/stat (< 4 KiB) and /proc/<tid>/cgroup (< 64 KiB) read while it is held, the signal
 * check after the reads), then the PIDFD_GET_INFO tgid (0: the kernel cannot tell), read from the
 * pidfd itself and not by number, so after the check. Throws Error{code: 'ERR_PAL_PIDFD', errno,
 * step} with the pidfd closed; the alive step throws ESRCH when the thread is gone. */
static napi_value pidfd_pin_read_js(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  int tid;
  if (!pal_get_args(env, info, 1, argv) || !arg_int(env, argv[0], "tid", 1, &tid)) return NULL;
  char stat[PAL_STAT_MAX];
  ssize_t stat_len, cg_len;
  const char *step;
  int fd = pal_pidfd_pin_read((pid_t)tid, stat, sizeof stat, &stat_len, pin_read_buf, sizeof pin_read_buf,
                              &cg_len, &step);
  if (fd < 0) {
    throw_step(env, step, errno, (pid_t)tid);
    return NULL;
  }
  int tgid = pal_pidfd_tgid(fd);
  /* Gone is gone; any other failure is "cannot tell" (0: /proc/<tid>/status is read instead). */
  if (tgid < 0 && errno == ESRCH) {
    throw_step(env, "tgid", errno, (pid_t)tid);
    close(fd);
    return NULL;
  }
  if (tgid < 0) tgid = 0;
  if (napi_create_object(env, &out) != napi_ok || !set_int(env, out, "fd", fd) ||
      !set_latin1(env, out, "stat", stat, (size_t)stat_len) ||
      !set_latin1(env, out, "cgroup", pin_read_buf, (size_t)cg_len) || !set_int(env, out, "tgid", tgid)) {
    pal_throw_last(env, "pidfdPinRead result");
    close(fd);
    return NULL;
  }
  return out;
}

bool pal_pidfd_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"pidfdOpen", NULL, pidfd_open_js, NULL, NULL, NULL, napi_default, NULL},
      {"pidfdAlive", NULL, pidfd_alive_js, NULL, NULL, NULL, napi_default, NULL},
      {"pidfdTgid", NULL, pidfd_tgid_js, NULL, NULL, NULL, napi_default, NULL},
      {"pidfdPinRead", NULL, pidfd_pin_read_js, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}
