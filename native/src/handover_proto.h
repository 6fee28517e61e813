/* The holder protocol (native/src/pald_holder.c <-> pald): one request and one reply per unix
 * stream connection. A message is a fixed header, up to PAL_HO_MAX_PAYLOAD opaque bytes and at
 * most one descriptor (SCM_RIGHTS). Plain C, no N-API: the holder links it too. */
#ifndef PAL_HANDOVER_PROTO_H
#define PAL_HANDOVER_PROTO_H
#include <stdbool.h>
#include <stdint.h>

#define PAL_HO_VERSION 1
#define PAL_HO_MAX_PAYLOAD 1024
#define PAL_HO_TIMEOUT_MS 2000

enum {
  PAL_HO_PUT = 1,  /* pald -> holder: keep this /dev/fuse descriptor and payload (replaces any) */
  PAL_HO_GET = 2,  /* pald -> holder: send me a duplicate of what you keep (you keep yours) */
  PAL_HO_DROP = 3, /* pald -> holder: close what you keep and exit (a real stop) */
  PAL_HO_OK = 16,
  PAL_HO_EMPTY = 17,   /* nothing kept */
  PAL_HO_REFUSED = 18, /* not root, malformed, or not /dev/fuse */
};

/* Sends one message; fd < 0: none. 0 or -errno. */
int pal_ho_send(int sock, uint8_t op, const void *payload, uint16_t len, int fd);
/* Receives one message (payload must hold PAL_HO_MAX_PAYLOAD). *fd is -1 when none came; extra
 * descriptors are closed; every received descriptor is close-on-exec. 0 or -errno. */
int pal_ho_recv(int sock, uint8_t *op, void *payload, uint16_t *len, int *fd);
/* Bounds the connection's reads and writes (SO_RCVTIMEO/SO_SNDTIMEO). */
void pal_ho_timeouts(int sock, int ms);
/* Is the peer of a connected unix socket root? */
bool pal_ho_peer_is_root(int sock);
/* Is fd the FUSE device (a character device 10:229)? */
bool pal_is_dev_fuse(int fd);
/* Connects to the holder at path: the socket, or -errno. */
int pal_ho_connect(const char *path);

#endif
