/* FUSE passthrough: registrations of secure buffers as backing files, and the one-backing-per-
 * inode rule (passthrough.h). */
#include "passthrough.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* <linux/fuse.h> of Debian 12 predates passthrough (protocol 7.40, Linux 6.9). */
struct pal_fuse_backing_map {
  int32_t fd;
  uint32_t flags;
  uint64_t padding;
};
#define PAL_FUSE_DEV_IOC_BACKING_OPEN _IOW(229, 1, struct pal_fuse_backing_map)
#define PAL_FUSE_DEV_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)

struct pal_pt_conn {
  atomic_int refs;
  int fd;
};

struct pal_pt_backing {
  pal_pt_conn *conn;
  int id;
};

struct pal_pt_inode {
  pal_pt_inode *next;
  uint64_t ino;
  const pal_secmem *content;
  unsigned long files;
};

/* Registration happens once per buffer, on its first passthrough open: one lock for all. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

pal_pt_conn *pal_pt_conn_new(int devfd) {
  pal_pt_conn *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->fd = fcntl(devfd, F_DUPFD_CLOEXEC, 3);
  if (c->fd < 0) {
    int e = errno;
    free(c);
    errno = e;
    return NULL;
  }
  atomic_init(&c->refs, 1);
  return c;
}

void pal_pt_conn_unref(pal_pt_conn *c) {
  if (!c || atomic_fetch_sub(&c->refs, 1) != 1) return;
  close(c->fd);
  free(c);
}

int pal_pt_backing_id(pal_pt_conn *c, pal_secmem *m) {
  if (!c || !m || !m->file_backed) return 0;
  int id = 0;
  pthread_mutex_lock(&reg_lock);
  if (m->backing) {
    id = m->backing->conn == c ? m->backing->id : 0;
  } else if (m->memfd >= 0 && atomic_load(&m->alive)) {
    struct pal_pt_backing *b = malloc(sizeof *b);
    struct pal_fuse_backing_map map = {.fd = m->memfd};
    int got = b ? ioctl(c->fd, PAL_FUSE_DEV_IOC_BACKING_OPEN, &map) : -1;
    if (got > 0) {
      atomic_fetch_add(&c->refs, 1);
      b->conn = c;
      b->id = got;
      m->backing = b;
      /* The registration holds the file now; a descriptor per cached plaintext would be a lot. */
      pal_secmem_close_memfd(m);
      id = got;
    } else {
      id = b ? -errno : -ENOMEM;
      free(b);
    }
  }
  pthread_mutex_unlock(&reg_lock);
  return id;
}

void pal_pt_forget(pal_secmem *m) {
  pthread_mutex_lock(&reg_lock);
  struct pal_pt_backing *b = m->backing;
  m->backing = NULL;
  pthread_mutex_unlock(&reg_lock);
  if (!b) return;
  uint32_t id = (uint32_t)b->id;
  (void)ioctl(b->conn->fd, PAL_FUSE_DEV_IOC_BACKING_CLOSE, &id); /* fails once the session is gone */
  pal_pt_conn_unref(b->conn);
  free(b);
}

void pal_pt_inodes_init(pal_pt_inodes *t) {
  pthread_mutex_init(&t->lock, NULL);
  for (size_t i = 0; i < PAL_PT_BUCKETS; i++) t->buckets[i] = NULL;
  atomic_init(&t->opens, 0);
  atomic_init(&t->conflicts, 0);
}

void pal_pt_inodes_destroy(pal_pt_inodes *t) {
  for (size_t i = 0; i < PAL_PT_BUCKETS; i++) {
    for (pal_pt_inode *n = t->buckets[i], *next; n; n = next) {
      next = n->next;
      free(n);
    }
    t->buckets[i] = NULL;
  }
  pthread_mutex_destroy(&t->lock);
}

static pal_pt_inode **slot_of(pal_pt_inodes *t, uint64_t ino) {
  pal_pt_inode **s = &t->buckets[(ino * UINT64_C(0x9E3779B97F4A7C15)) >> 56];
  while (*s && (*s)->ino != ino) s = &(*s)->next;
  return s;
}

bool pal_pt_inodes_acquire(pal_pt_inodes *t, uint64_t ino, const pal_secmem *m) {
  bool ok = true;
  pthread_mutex_lock(&t->lock);
  pal_pt_inode **s = slot_of(t, ino);
  if (*s) {
    ok = (*s)->content == m;
    if (ok) (*s)->files++;
  } else {
    pal_pt_inode *n = malloc(sizeof *n);
    ok = n != NULL;
    if (n) *n = (pal_pt_inode){.next = NULL, .ino = ino, .content = m, .files = 1};
    *s = n;
  }
  pthread_mutex_unlock(&t->lock);
  atomic_fetch_add(ok ? &t->opens : &t->conflicts, 1);
  return ok;
}

void pal_pt_inodes_release(pal_pt_inodes *t, uint64_t ino) {
  pthread_mutex_lock(&t->lock);
  pal_pt_inode **s = slot_of(t, ino);
  pal_pt_inode *n = *s;
  if (n && --n->files == 0) {
    *s = n->next;
    free(n);
  }
  pthread_mutex_unlock(&t->lock);
}

size_t pal_pt_inodes_busy(pal_pt_inodes *t) {
  size_t busy = 0;
  pthread_mutex_lock(&t->lock);
  for (size_t i = 0; i < PAL_PT_BUCKETS; i++)
    for (pal_pt_inode *n = t->buckets[i]; n; n = n->next) busy++;
  pthread_mutex_unlock(&t->lock);
  return busy;
}
