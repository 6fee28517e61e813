/* pald-holder: keeps pald's /dev/fuse descriptor (and the few bytes pald needs to resume the
 * session) while pald restarts, so that /run/pal stays the same mount and callers wait in the
 * kernel instead of failing (DESIGN "Restarts without stacked mounts"; docs/operations.md).
 *
 * Why a separate C program rather than `pald --holder`: it must outlive every pald it serves,
 * including an upgrade of pald itself, so it holds no pald code to update; it runs no JavaScript,
 * parses one fixed message format and nothing else, and uses a few hundred KiB instead of a Node
 * heap. It never reads /dev/fuse: requests wait in the kernel for the next pald.
 *
 * Usage: pald-holder SOCKET   (SOCKET's directory must be root's and not group/other-writable)
 * Only root may talk to it (SO_PEERCRED). It exits when told to (DROP), on SIGTERM, when the FUSE
 * connection ends (unmounted or aborted), or after 60 s without anything to keep. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "handover_proto.h"

#define IDLE_EXIT_MS 60000

static int held_fd = -1;
static char held_payload[PAL_HO_MAX_PAYLOAD];
static uint16_t held_len = 0;

static void drop_held(void) {
  if (held_fd >= 0) close(held_fd);
  held_fd = -1;
  held_len = 0;
  memset(held_payload, 0, sizeof held_payload);
}

static bool safe_dir(const char *socket_path) {
  char copy[sizeof(((struct sockaddr_un *)0)->sun_path)];
  snprintf(copy, sizeof copy, "%s", socket_path);
  struct stat st;
  const char *dir = dirname(copy);
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  return st.st_uid == 0 && (st.st_mode & 022) == 0;
}

/* Binds the socket, unless a holder already answers there (then 1). -1 on error. */
static int listen_at(const char *path, int *out) {
  int probe = pal_ho_connect(path);
  if (probe >= 0) {
    close(probe);
    return 1;
  }
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof addr.sun_path || path[0] != '/') return -1;
  memcpy(addr.sun_path, path, n);
  struct stat st;
  if (lstat(path, &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return -1; /* never remove anything but a dead socket */
    unlink(path);
  }
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return -1;
  umask(077);
  if (bind(sock, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(sock, 8) != 0) {
    close(sock);
    return -1;
  }
  *out = sock;
  return 0;
}

static void serve_one(int conn) {
  uint8_t op;
  uint16_t len;
  int fd = -1;
  char payload[PAL_HO_MAX_PAYLOAD];
  pal_ho_timeouts(conn, PAL_HO_TIMEOUT_MS);
  if (!pal_ho_peer_is_root(conn) || pal_ho_recv(conn, &op, payload, &len, &fd) != 0) {
    pal_ho_send(conn, PAL_HO_REFUSED, NULL, 0, -1);
    if (fd >= 0) close(fd);
    return;
  }
  switch (op) {
    case PAL_HO_PUT:
      if (fd < 0 || !pal_is_dev_fuse(fd)) {
        pal_ho_send(conn, PAL_HO_REFUSED, NULL, 0, -1);
        break;
      }
      drop_held();
      held_fd = fd;
      fd = -1;
      memcpy(held_payload, payload, len);
      held_len = len;
      pal_ho_send(conn, PAL_HO_OK, NULL, 0, -1);
      break;
    case PAL_HO_GET:
      if (held_fd < 0)
        pal_ho_send(conn, PAL_HO_EMPTY, NULL, 0, -1);
      else
        pal_ho_send(conn, PAL_HO_OK, held_payload, held_len, held_fd); /* a duplicate: we keep ours */
      break;
    case PAL_HO_DROP:
      drop_held();
      pal_ho_send(conn, PAL_HO_OK, NULL, 0, -1);
      break;
    default:
      pal_ho_send(conn, PAL_HO_REFUSED, NULL, 0, -1);
  }
  if (fd >= 0) close(fd);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: pald-holder SOCKET\n");
    return 2;
  }
  const char *path = argv[1];
  if (geteuid() != 0 || !safe_dir(path)) {
    fprintf(stderr, "pald-holder: must run as root, with %s in a root-owned directory others cannot write\n",
            path);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  int sock;
  int rc = listen_at(path, &sock);
  if (rc == 1) {
    fprintf(stderr, "pald-holder: a holder already answers at %s\n", path);
    return 0;
  }
  if (rc != 0) {
    fprintf(stderr, "pald-holder: cannot listen at %s: %s\n", path, strerror(errno));
    return 1;
  }
  fprintf(stderr, "pald-holder: listening at %s\n", path);
  bool ever_held = false;
  for (;;) {
    /* events 0 on the FUSE fd: only POLLERR, when the connection ends. Never read it. */
    struct pollfd p[2] = {{.fd = sock, .events = POLLIN}, {.fd = held_fd, .events = 0}};
    int n = poll(p, held_fd >= 0 ? 2 : 1, held_fd >= 0 ? -1 : IDLE_EXIT_MS);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (n == 0) break; /* nothing kept for a minute: nobody needs us */
    if (held_fd >= 0 && (p[1].revents & (POLLERR | POLLHUP | POLLNVAL))) {
      drop_held(); /* unmounted or aborted: nothing left to keep */
      break;
    }
    if (p[0].revents & POLLIN) {
      int conn = accept4(sock, NULL, NULL, SOCK_CLOEXEC);
      if (conn < 0) continue;
      serve_one(conn);
      close(conn);
      if (held_fd >= 0) ever_held = true;
      if (ever_held && held_fd < 0) break; /* dropped: a real stop */
    }
  }
  drop_held();
  unlink(path);
  close(sock);
  return 0;
}
