/* JS bindings for the handover (handover_proto.c does the wire format):
 *   holderPut(socket, fd, payload)   keep fd (must be /dev/fuse) + payload in the holder
 *   holderTake(socket) -> {fd, payload} | null   null: no holder there, or it keeps nothing
 *   holderDrop(socket) -> bool       a real stop: the holder lets go and exits
 *   sdNotifyWithFd(socket, message, fd)   sd_notify with SCM_RIGHTS (FDSTORE=1)
 *   claimFuseFd(fd), closeFd(fd)
 * All calls are synchronous and bounded (PAL_HO_TIMEOUT_MS): they run at start and at stop. */
#include "handover.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "handover_proto.h"
#include "napi_util.h"

static bool arg_fd(napi_env env, napi_value v, int *fd) {
  int64_t n;
  if (!pal_arg_i64(env, v, "fd", &n)) return false;
  if (n < 0 || n > 0x7fffffff) {
    pal_throw(env, "ERR_PAL_ARGS", EBADF, "bad fd %lld", (long long)n);
    return false;
  }
  *fd = (int)n;
  return true;
}

static bool arg_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type type;
  napi_is_typedarray(env, v, &is_ta);
  if (!is_ta || napi_get_typedarray_info(env, v, &type, len, data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    pal_throw(env, "ERR_PAL_ARGS", EINVAL, "payload must be a Uint8Array");
    return false;
  }
  return true;
}

/* One request, one reply. Returns the reply op, or -errno (reply payload/fd into out params). */
static int exchange(const char *path, uint8_t op, const void *payload, uint16_t len, int fd, void *reply,
                    uint16_t *reply_len, int *reply_fd) {
  int sock = pal_ho_connect(path);
  if (sock < 0) return sock;
  int rc = pal_ho_send(sock, op, payload, len, fd);
  uint8_t rop = 0;
  if (rc == 0) rc = pal_ho_recv(sock, &rop, reply, reply_len, reply_fd);
  close(sock);
  return rc < 0 ? rc : rop;
}

static napi_value holder_put(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  void *data;
  size_t len;
  if (!pal_get_args(env, info, 3, argv)) return NULL;
  char *path = pal_arg_string(env, argv[0], "socket", NULL);
  if (!path) return NULL;
  if (!arg_fd(env, argv[1], &fd) || !arg_bytes(env, argv[2], &data, &len)) goto out;
  if (len > PAL_HO_MAX_PAYLOAD || !pal_is_dev_fuse(fd)) {
    pal_throw(env, "ERR_PAL_ARGS", EINVAL, "holderPut: payload too large or fd is not /dev/fuse");
    goto out;
  }
  char reply[PAL_HO_MAX_PAYLOAD];
  uint16_t rlen;
  int rfd = -1;
  int rc = exchange(path, PAL_HO_PUT, data, (uint16_t)len, fd, reply, &rlen, &rfd);
  if (rfd >= 0) close(rfd);
  if (rc != PAL_HO_OK)
    pal_throw(env, "ERR_PAL_HANDOVER", rc < 0 ? -rc : EPROTO, "holder at %s: %s", path,
              rc < 0 ? strerror(-rc) : "refused");
out:
  free(path);
  return NULL;
}

static napi_value holder_take(napi_env env, napi_callback_info info) {
  napi_value argv[1], out = NULL, v;
  if (!pal_get_args(env, info, 1, argv)) return NULL;
  char *path = pal_arg_string(env, argv[0], "socket", NULL);
  if (!path) return NULL;
  char reply[PAL_HO_MAX_PAYLOAD];
  uint16_t rlen = 0;
  int rfd = -1;
  int rc = exchange(path, PAL_HO_GET, NULL, 0, -1, reply, &rlen, &rfd);
  if (rc == -ENOENT || rc == -ECONNREFUSED || rc == PAL_HO_EMPTY) {
    napi_get_null(env, &out); /* no holder, or nothing kept: a fresh mount */
  } else if (rc != PAL_HO_OK || rfd < 0 || !pal_is_dev_fuse(rfd)) {
    pal_throw(env, "ERR_PAL_HANDOVER", rc < 0 ? -rc : EPROTO, "holder at %s: %s", path,
              rc < 0 ? strerror(-rc) : "no /dev/fuse descriptor in its answer");
  } else {
    void *data = NULL;
    napi_value buf;
    if (napi_create_object(env, &out) != napi_ok || napi_create_int32(env, rfd, &v) != napi_ok ||
        napi_set_named_property(env, out, "fd", v) != napi_ok ||
        napi_create_arraybuffer(env, rlen, &data, &buf) != napi_ok ||
        napi_create_typedarray(env, napi_uint8_array, rlen, buf, 0, &v) != napi_ok ||
        napi_set_named_property(env, out, "payload", v) != napi_ok) {
      pal_throw_last(env, "holderTake");
      out = NULL;
    } else {
      if (rlen) memcpy(data, reply, rlen);
      rfd = -1; /* JS owns it now */
    }
  }
  if (rfd >= 0) close(rfd);
  free(path);
  return out;
}

static napi_value holder_drop(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  if (!pal_get_args(env, info, 1, argv)) return NULL;
  char *path = pal_arg_string(env, argv[0], "socket", NULL);
  if (!path) return NULL;
  char reply[PAL_HO_MAX_PAYLOAD];
  uint16_t rlen;
  int rfd = -1;
  int rc = exchange(path, PAL_HO_DROP, NULL, 0, -1, reply, &rlen, &rfd);
  if (rfd >= 0) close(rfd);
  free(path);
  napi_get_boolean(env, rc == PAL_HO_OK, &out);
  return out;
}

/* sdNotifyWithFd(socket, message, fd): sd_pid_notify_with_fds(3) with one descriptor. */
static napi_value sd_notify_with_fd(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  size_t path_len = 0, msg_len = 0;
  if (!pal_get_args(env, info, 3, argv)) return NULL;
  char *path = pal_arg_string(env, argv[0], "socket", &path_len);
  if (!path) return NULL;
  char *msg = pal_arg_string(env, argv[1], "message", &msg_len);
  if (!msg || !arg_fd(env, argv[2], &fd)) goto out;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (path_len == 0 || path_len >= sizeof addr.sun_path || (path[0] != '/' && path[0] != '@')) {
    pal_throw(env, "ERR_PAL_ARGS", EINVAL, "sdNotifyWithFd: bad socket path");
    goto out;
  }
  memcpy(addr.sun_path, path, path_len);
  if (path[0] == '@') addr.sun_path[0] = '\0';
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {.iov_base = msg, .iov_len = msg_len};
  struct msghdr mh = {.msg_name = &addr,
                      .msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_len),
                      .msg_iov = &iov,
                      .msg_iovlen = 1,
                      .msg_control = control.buf,
                      .msg_controllen = sizeof control.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int e = 0;
  if (sock < 0 || sendmsg(sock, &mh, MSG_NOSIGNAL) != (ssize_t)msg_len) e = errno ? errno : EPIPE;
  if (sock >= 0) close(sock);
  if (e) pal_throw(env, "ERR_PAL_NOTIFY", e, "sd_notify with fd to %s: %s", path, strerror(e));
out:
  free(path);
  free(msg);
  return NULL;
}

/* claimFuseFd(fd) -> bool: is it /dev/fuse? If so it becomes close-on-exec (systemd hands stored
 * descriptors over without), so that no child pald runs, and nothing it runs, inherits it. */
static napi_value claim_fuse_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  int fd;
  if (!pal_get_args(env, info, 1, argv) || !arg_fd(env, argv[0], &fd)) return NULL;
  bool ok = pal_is_dev_fuse(fd) && fcntl(fd, F_SETFD, FD_CLOEXEC) == 0;
  napi_get_boolean(env, ok, &out);
  return out;
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!pal_get_args(env, info, 1, argv) || !arg_fd(env, argv[0], &fd)) return NULL;
  close(fd);
  return NULL;
}

bool pal_handover_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"holderPut", NULL, holder_put, NULL, NULL, NULL, napi_default, NULL},
      {"holderTake", NULL, holder_take, NULL, NULL, NULL, napi_default, NULL},
      {"holderDrop", NULL, holder_drop, NULL, NULL, NULL, napi_default, NULL},
      {"sdNotifyWithFd", NULL, sd_notify_with_fd, NULL, NULL, NULL, napi_default, NULL},
      {"claimFuseFd", NULL, claim_fuse_fd, NULL, NULL, NULL, napi_default, NULL},
      {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}
