/* Session I/O for libfuse: plain read/writev on /dev/fuse, plus one fix-up of the INIT reply. */
#ifndef PAL_FUSE_IO_H
#define PAL_FUSE_IO_H
#include <stdatomic.h>
#include <stdint.h>

struct fuse_session;

/* Must be the first member of the session's userdata: the I/O callbacks get the userdata. */
typedef struct {
  atomic_uint_fast64_t init_unique; /* unique id of the kernel's INIT request, 0 until seen */
  atomic_bool kernel_parallel_dirops;
} pal_io_state;

/* Installs the I/O on a mounted session (same fd). Returns 0 or -errno. */
int pal_fuse_install_io(struct fuse_session *se);

#endif
