/* Secure memory for plaintext: page-aligned, mlock'ed, MADV_DONTDUMP, wiped with explicit_bzero. */
#ifndef PAL_SECURE_BUFFER_H
#define PAL_SECURE_BUFFER_H

#include <node_api.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* The memory itself, shared by any number of holders: JS handles (SecureBuffer, share()) and
 * FUSE file handles opened with it as content. Each holder owns one reference; the bytes are
 * wiped (explicit_bzero), unlocked and freed when the last reference is dropped, so every
 * holder reads them until it lets go, whatever the others do. The count is atomic: with worker
 * threads, a release on a worker may drop the last reference while JS drops another. */
typedef struct pal_secmem {
  atomic_int refs;
  atomic_bool alive;
  bool locked;         /* false: ordinary malloc'd memory for non-secret content (.pal files) */
  unsigned char *data; /* NULL after the wipe */
  size_t length;       /* bytes visible to users */
  size_t capacity;     /* bytes allocated (locked: whole pages, >= 1 page) */
  /* Locked memory allocated while memfd mode is on (pal_secmem_use_memfd) is a shared mapping of
   * a memfd exactly `length` bytes long, so that the kernel can read it for a FUSE passthrough
   * open (passthrough.c). memfd: its descriptor until it is registered (-1 after, or without);
   * backing: that registration, released when the memory is wiped. */
  bool file_backed;
  int memfd;
  struct pal_pt_backing *backing;
} pal_secmem;

bool pal_secure_buffer_init(napi_env env, napi_value exports);

/* From now on, locked allocations of 1 byte or more are memfd mappings (FUSE passthrough can
 * serve them); earlier ones stay as they are. Process-wide, never turned off. */
void pal_secmem_use_memfd(void);
/* Closes m's memfd descriptor (registered, or wiped): the mapping and the kernel's files keep the
 * file. */
void pal_secmem_close_memfd(pal_secmem *m);

/* Allocates and locks; on failure returns NULL with errno set (mlock/madvise/posix_memalign). */
pal_secmem *pal_secmem_alloc(size_t length, const char **failed_step);
/* Ordinary (unlocked, dumpable) memory holding a copy of `bytes`: for content that is not a
 * secret, so that it never takes locked memory. NULL on ENOMEM. */
pal_secmem *pal_secmem_plain_copy(const void *bytes, size_t length);
void pal_secmem_ref(pal_secmem *m);
/* Drops one reference; the last one wipes, unlocks and frees. */
void pal_secmem_unref(pal_secmem *m);

/* For fuse_bridge: move the reference held by a JS SecureBuffer handle to the caller (a file
 * handle) and mark the JS handle as handed over (it can no longer read, write, share or drop
 * it). NULL after throwing. */
pal_secmem *pal_secure_buffer_take(napi_env env, napi_value handle);

#endif
