/* Secure memory for plaintext: page-aligned, mlock'ed, MADV_DONTDUMP, wiped with explicit_bzero. */
#ifndef PAL_SECURE_BUFFER_H
#define PAL_SECURE_BUFFER_H

#include <node_api.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* The memory itself, shared by the JS handle and (after an open reply) a FUSE file handle.
 * Freed when the last reference goes; the bytes are wiped at wipe() or at that point. */
typedef struct pal_secmem {
  atomic_int refs;
  atomic_bool alive;
  unsigned char *data; /* NULL after wipe */
  size_t length;       /* bytes visible to users */
  size_t capacity;     /* bytes allocated and locked (whole pages, >= 1 page) */
} pal_secmem;

bool pal_secure_buffer_init(napi_env env, napi_value exports);

/* Allocates and locks; on failure returns NULL with errno set (mlock/madvise/posix_memalign). */
pal_secmem *pal_secmem_alloc(size_t length, const char **failed_step);
void pal_secmem_ref(pal_secmem *m);
/* Drops one reference; the last one wipes and frees. */
void pal_secmem_unref(pal_secmem *m);
/* Zeroes, unlocks and frees the bytes now (other references see alive == false). */
void pal_secmem_wipe(pal_secmem *m);

/* For fuse_bridge: take a reference on the memory behind a JS SecureBuffer handle and mark the
 * handle as handed over (JS can no longer read, write or wipe it). NULL after throwing. */
pal_secmem *pal_secure_buffer_take(napi_env env, napi_value handle);

#endif
