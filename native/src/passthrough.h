/* FUSE passthrough (Linux >= 6.9): an open whose content is a memfd-backed secure buffer is
 * answered with that memfd registered as the file's backing, and the kernel then serves the
 * file's reads (read, sendfile, mmap) from those very pages, without a READ request. The pages
 * stay pald's: locked and undumpable in its mapping, wiped with the buffer.
 *
 * The kernel allows one backing per inode at a time: while an inode has a passthrough file open,
 * every other open of it must be passthrough to the same backing, or the kernel fails it (EIO).
 * pal_pt_inodes keeps that rule on our side: an open of different content on such an inode is
 * answered without passthrough (and the kernel refuses it), counted as a conflict. */
#ifndef PAL_PASSTHROUGH_H
#define PAL_PASSTHROUGH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "secure_buffer.h"

/* A session's /dev/fuse, duplicated: the registrations of its buffers are closed through it,
 * whenever the buffers go (possibly after the session). */
typedef struct pal_pt_conn pal_pt_conn;
pal_pt_conn *pal_pt_conn_new(int devfd); /* NULL: errno */
void pal_pt_conn_unref(pal_pt_conn *c);

/* The kernel's backing id for `m` on `c`, registering m's memfd the first time: > 0; 0 when m
 * cannot be a backing (not memfd-backed, wiped, registered with another session); -errno when
 * the kernel refused (EPERM: the session has no passthrough, or pald lacks CAP_SYS_ADMIN). */
int pal_pt_backing_id(pal_pt_conn *c, pal_secmem *m);
/* m is being wiped: its registration goes (the kernel's open files keep their own reference). */
void pal_pt_forget(pal_secmem *m);

typedef struct pal_pt_inode pal_pt_inode;
#define PAL_PT_BUCKETS 256
typedef struct {
  pthread_mutex_t lock;
  pal_pt_inode *buckets[PAL_PT_BUCKETS];
  atomic_ulong opens, conflicts;
} pal_pt_inodes;

void pal_pt_inodes_init(pal_pt_inodes *t);
void pal_pt_inodes_destroy(pal_pt_inodes *t);
/* An open of `ino` reading `m` by passthrough: true (counted) unless the inode's open
 * passthrough files read other content. */
bool pal_pt_inodes_acquire(pal_pt_inodes *t, uint64_t ino, const pal_secmem *m);
/* A passthrough file of `ino` was released. */
void pal_pt_inodes_release(pal_pt_inodes *t, uint64_t ino);
/* Inodes with passthrough files open now. */
size_t pal_pt_inodes_busy(pal_pt_inodes *t);

#endif
