/* See handover_proto.h. Every input is hostile: lengths are checked against what was received,
 * descriptors that were not asked for are closed, and a peer that is not root is refused. */
#include "handover_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

struct ho_header {
  char magic[4]; /* "PALH" */
  uint8_t version;
  uint8_t op;
  uint16_t len;
};

static int send_all(int sock, struct msghdr *msg) {
  for (;;) {
    ssize_t n = sendmsg(sock, msg, MSG_NOSIGNAL);
    if (n >= 0) {
      size_t want = 0;
      for (size_t i = 0; i < msg->msg_iovlen; i++) want += msg->msg_iov[i].iov_len;
      return (size_t)n == want ? 0 : -EPIPE; /* messages are small: a short send means trouble */
    }
    if (errno != EINTR) return -errno;
  }
}

int pal_ho_send(int sock, uint8_t op, const void *payload, uint16_t len, int fd) {
  if (len > PAL_HO_MAX_PAYLOAD) return -EMSGSIZE;
  struct ho_header h = {.magic = {'P', 'A', 'L', 'H'}, .version = PAL_HO_VERSION, .op = op, .len = len};
  struct iovec iov[2] = {{.iov_base = &h, .iov_len = sizeof h},
                         {.iov_base = (void *)payload, .iov_len = len}};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
  if (fd >= 0) {
    memset(&control, 0, sizeof control);
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  return send_all(sock, &msg);
}

/* Takes the descriptors out of a received message: the first into *fd, the rest closed. */
static void take_fds(struct msghdr *msg, int *fd) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int got;
      memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
      if (*fd < 0)
        *fd = got;
      else
        close(got);
    }
  }
}

int pal_ho_recv(int sock, uint8_t *op, void *payload, uint16_t *len, int *fd) {
  struct ho_header h;
  char body[PAL_HO_MAX_PAYLOAD];
  union {
    char buf[CMSG_SPACE(4 * sizeof(int))];
    struct cmsghdr align;
  } control;
  *fd = -1;
  /* One read takes the header, the payload and the descriptor: the sender writes them in one
   * sendmsg, and a stream socket keeps an SCM_RIGHTS message together with its first byte. */
  size_t got = 0;
  int rc = 0;
  while (got < sizeof h) {
    struct iovec iov[2] = {{.iov_base = (char *)&h + got, .iov_len = sizeof h - got},
                           {.iov_base = body, .iov_len = sizeof body}};
    struct msghdr msg = {
        .msg_iov = iov, .msg_iovlen = 2, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n == 0 ? -ECONNRESET : -errno;
    take_fds(&msg, fd);
    if (msg.msg_flags & MSG_CTRUNC) rc = -EPROTO;
    if ((size_t)n < sizeof h - got) {
      got += (size_t)n;
      continue;
    }
    size_t extra = (size_t)n - (sizeof h - got);
    got = sizeof h;
    if (memcmp(h.magic, "PALH", 4) != 0 || h.version != PAL_HO_VERSION || h.len > PAL_HO_MAX_PAYLOAD) {
      rc = -EPROTO;
      break;
    }
    while (extra < h.len) { /* the rest of the payload, if it came separately */
      ssize_t m = recv(sock, body + extra, h.len - extra, 0);
      if (m < 0 && errno == EINTR) continue;
      if (m <= 0) {
        rc = m == 0 ? -ECONNRESET : -errno;
        break;
      }
      extra += (size_t)m;
    }
    if (rc == 0 && extra != h.len) rc = -EPROTO; /* more than announced */
  }
  if (rc != 0) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
    return rc;
  }
  *op = h.op;
  *len = h.len;
  memcpy(payload, body, h.len);
  return 0;
}

void pal_ho_timeouts(int sock, int ms) {
  struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
  setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool pal_ho_peer_is_root(int sock) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  return getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && len == sizeof cred && cred.uid == 0;
}

bool pal_is_dev_fuse(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 10 && minor(st.st_rdev) == 229;
}

int pal_ho_connect(const char *path) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof addr.sun_path || path[0] != '/') return -EINVAL;
  memcpy(addr.sun_path, path, n);
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return -errno;
  pal_ho_timeouts(sock, PAL_HO_TIMEOUT_MS);
  if (connect(sock, (struct sockaddr *)&addr, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1)) !=
      0) {
    int e = errno;
    close(sock);
    return -e;
  }
  if (!pal_ho_peer_is_root(sock)) { /* somebody else's socket at our path: never hand it the mount */
    close(sock);
    return -EPERM;
  }
  return sock;
}
