/* SO_PEERCRED for the admin socket, PR_SET_DUMPABLE so pald's memory stays out of cores, one
 * unix datagram send for sd_notify (node has no AF_UNIX SOCK_DGRAM sockets), and the flock that
 * keeps a second pald off a running one's sockets and session (node has no flock). */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <stdlib.h>

#include "napi_util.h"

/* peerCredentials(fd) -> { pid, uid, gid } */
static napi_value peer_credentials(napi_env env, napi_callback_info info) {
  napi_value argv[1], out, v;
  int64_t fd;
  if (!pal_get_args(env, info, 1, argv) || !pal_arg_i64(env, argv[0], "fd", &fd)) return NULL;
  if (fd < 0 || fd > 0x7fffffff) {
    pal_throw(env, "ERR_PAL_ARGS", EBADF, "peerCredentials: bad fd %lld", (long long)fd);
    return NULL;
  }
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt((int)fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) {
    int e = errno;
    pal_throw(env, "ERR_PAL_PEERCRED", e, "peerCredentials: getsockopt(SO_PEERCRED) on fd %d: %s", (int)fd,
              strerror(e));
    return NULL;
  }
  NAPI_TRY(env, napi_create_object(env, &out));
  NAPI_TRY(env, napi_create_int64(env, cred.pid, &v));
  NAPI_TRY(env, napi_set_named_property(env, out, "pid", v));
  NAPI_TRY(env, napi_create_uint32(env, cred.uid, &v));
  NAPI_TRY(env, napi_set_named_property(env, out, "uid", v));
  NAPI_TRY(env, napi_create_uint32(env, cred.gid, &v));
  NAPI_TRY(env, napi_set_named_property(env, out, "gid", v));
  return out;
}

/* setDumpable(bool) ; getDumpable() -> bool */
static napi_value set_dumpable(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  bool on;
  if (!pal_get_args(env, info, 1, argv) || !pal_arg_bool(env, argv[0], &on)) return NULL;
  if (prctl(PR_SET_DUMPABLE, on ? 1 : 0, 0, 0, 0) != 0) {
    int e = errno;
    pal_throw(env, "ERR_PAL_PRCTL", e, "prctl(PR_SET_DUMPABLE): %s", strerror(e));
  }
  return NULL;
}

static napi_value get_dumpable(napi_env env, napi_callback_info info) {
  napi_value out;
  int r = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  NAPI_TRY(env, napi_get_boolean(env, r > 0, &out));
  return out;
}

/* sendUnixDatagram(path, message): one datagram to a unix socket, as sd_notify(3) sends to
 * $NOTIFY_SOCKET. A leading '@' names an abstract socket. Throws on any failure. */
static napi_value send_unix_datagram(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!pal_get_args(env, info, 2, argv)) return NULL;
  size_t path_len = 0, msg_len = 0;
  char *path = pal_arg_string(env, argv[0], "path", &path_len);
  if (!path) return NULL;
  char *msg = pal_arg_string(env, argv[1], "message", &msg_len);
  if (!msg) {
    free(path);
    return NULL;
  }
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (path_len == 0 || path_len >= sizeof addr.sun_path || (path[0] != '/' && path[0] != '@')) {
    pal_throw(env, "ERR_PAL_ARGS", EINVAL,
              "sendUnixDatagram: bad socket path (absolute or @abstract, < %zu bytes)", sizeof addr.sun_path);
    free(path);
    free(msg);
    return NULL;
  }
  memcpy(addr.sun_path, path, path_len);
  if (path[0] == '@') addr.sun_path[0] = '\0';
  socklen_t addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_len);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ssize_t sent = -1;
  int e = 0;
  if (fd < 0) {
    e = errno;
  } else {
    sent = sendto(fd, msg, msg_len, MSG_NOSIGNAL, (struct sockaddr *)&addr, addr_len);
    if (sent < 0) e = errno;
    close(fd);
  }
  if (sent < 0 || (size_t)sent != msg_len) {
    pal_throw(env, "ERR_PAL_NOTIFY", e, "sendUnixDatagram to %s: %s", path, e ? strerror(e) : "short send");
  }
  free(path);
  free(msg);
  return NULL;
}

/* lockExclusive(path) -> fd, or -1 when another open of the file holds the lock. The file is created
 * (0600) if missing; the lock lasts while the descriptor stays open (closeFd), and the kernel drops
 * it when the process dies however it dies: no stale lock to clean up. Throws on any other failure. */
static napi_value lock_exclusive(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  if (!pal_get_args(env, info, 1, argv)) return NULL;
  char *path = pal_arg_string(env, argv[0], "path", NULL);
  if (!path) return NULL;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    int e = errno;
    pal_throw(env, "ERR_PAL_LOCK", e, "lockExclusive: open %s: %s", path, strerror(e));
    free(path);
    return NULL;
  }
  int rc;
  do rc = flock(fd, LOCK_EX | LOCK_NB);
  while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int e = errno;
    close(fd);
    if (e != EWOULDBLOCK) {
      pal_throw(env, "ERR_PAL_LOCK", e, "lockExclusive: flock %s: %s", path, strerror(e));
      free(path);
      return NULL;
    }
    fd = -1;
  }
  free(path);
  NAPI_TRY(env, napi_create_int32(env, fd, &out));
  return out;
}

bool pal_sys_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"peerCredentials", NULL, peer_credentials, NULL, NULL, NULL, napi_default, NULL},
      {"setDumpable", NULL, set_dumpable, NULL, NULL, NULL, napi_default, NULL},
      {"getDumpable", NULL, get_dumpable, NULL, NULL, NULL, napi_default, NULL},
      {"sendUnixDatagram", NULL, send_unix_datagram, NULL, NULL, NULL, napi_default, NULL},
      {"lockExclusive", NULL, lock_exclusive, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}
