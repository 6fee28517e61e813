/* SecureBuffer: JS objects wrapping pal_secmem (napi_wrap), never an ArrayBuffer backed by it,
 * so plaintext only crosses into the JS heap through an explicit read(). */
#include "secure_buffer.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "napi_util.h"
#include "passthrough.h"

/* What napi_wrap holds for one JS handle: one reference to the memory until wipe(), hand-over
 * to a file handle, or garbage collection, whichever comes first. */
typedef struct {
  pal_secmem *mem; /* NULL once this handle let go of its reference */
  size_t length;   /* kept for info() after letting go */
  size_t capacity;
  bool handed_over; /* its reference moved to a FUSE file handle */
} sb_handle;

/* What pald holds in locked memory right now (live buffers, each counted once however many
 * holders share it; the pool's spare pages are counted apart). */
static atomic_size_t live_locked_bytes;
static atomic_size_t live_locked_buffers;

static size_t page_size(void) {
  long p = sysconf(_SC_PAGESIZE);
  return p > 0 ? (size_t)p : 4096;
}

/* Wiped small buffers are kept, still locked and undumpable, for the next allocation of the same
 * size: pald clones a plaintext for every open(), and mlock/munlock cost a cross-CPU LRU drain
 * each (the biggest native cost of an open in the benchmark's profile). Pooled memory is all
 * zero except the free-list link in its first bytes, which alloc clears. */
#define POOL_MAX_RUN 4     /* pages per pooled buffer */
#define POOL_MAX_PAGES 256 /* pages kept in all (1 MiB with 4 KiB pages) */
typedef struct pool_link {
  struct pool_link *next;
} pool_link;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pool_link *pool[POOL_MAX_RUN + 1];
static size_t pool_pages;

static void *pool_take(size_t pages) {
  if (pages > POOL_MAX_RUN) return NULL;
  pthread_mutex_lock(&pool_lock);
  pool_link *l = pool[pages];
  if (l) {
    pool[pages] = l->next;
    pool_pages -= pages;
  }
  pthread_mutex_unlock(&pool_lock);
  if (l) explicit_bzero(l, sizeof *l);
  return l;
}

/* Takes zeroed, locked memory back; false when the pool is full or the size is not pooled. */
static bool pool_give(void *p, size_t pages) {
  if (pages > POOL_MAX_RUN) return false;
  pthread_mutex_lock(&pool_lock);
  bool kept = pool_pages + pages <= POOL_MAX_PAGES;
  if (kept) {
    pool_link *l = p;
    l->next = pool[pages];
    pool[pages] = l;
    pool_pages += pages;
  }
  pthread_mutex_unlock(&pool_lock);
  return kept;
}

static atomic_bool use_memfd;
/* Memfd descriptors kept for a registration to come: a buffer is registered at its first
 * passthrough open (its descriptor closed then), but key material never is, and a descriptor
 * each must not starve pald of descriptors. Beyond this many, a new buffer's is closed at once:
 * it stays locked memory, served by READs. */
#define MEMFDS_HELD_MAX 64
static atomic_int memfds_held;

void pal_secmem_use_memfd(void) { atomic_store(&use_memfd, true); }

void pal_secmem_close_memfd(pal_secmem *m) {
  if (m->memfd < 0) return;
  close(m->memfd);
  m->memfd = -1;
  atomic_fetch_sub(&memfds_held, 1);
}

/* Locked memory that is also a file: a memfd of exactly `length` bytes (what a passthrough read
 * returns), mapped shared over `capacity` (its last page holds the end of the file, so every
 * byte of the mapping is addressable). NULL with errno and *failed_step set. */
static void *memfd_map(size_t length, size_t capacity, int *fd_out, const char **failed_step) {
  int fd = memfd_create("pal-plaintext", MFD_CLOEXEC);
  if (fd < 0) {
    *failed_step = "memfd_create";
    return NULL;
  }
  if (ftruncate(fd, (off_t)length) != 0) {
    *failed_step = "ftruncate";
    goto fail;
  }
  void *p = mmap(NULL, capacity, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    *failed_step = "mmap";
    goto fail;
  }
  if (mlock(p, capacity) != 0) {
    *failed_step = "mlock";
    int e = errno;
    munmap(p, capacity);
    errno = e;
    goto fail;
  }
  if (madvise(p, capacity, MADV_DONTDUMP) != 0 || madvise(p, capacity, MADV_DONTFORK) != 0) {
    *failed_step = "madvise(MADV_DONTDUMP)";
    int e = errno;
    munlock(p, capacity);
    munmap(p, capacity);
    errno = e;
    goto fail;
  }
  *fd_out = fd;
  return p;
fail:;
  int e = errno;
  close(fd);
  errno = e;
  return NULL;
}

pal_secmem *pal_secmem_alloc(size_t length, const char **failed_step) {
  size_t page = page_size();
  if (length > SIZE_MAX - page) {
    errno = ENOMEM;
    *failed_step = "size";
    return NULL;
  }
  size_t capacity = length == 0 ? page : (length + page - 1) / page * page;
  pal_secmem *m = calloc(1, sizeof *m);
  if (!m) {
    *failed_step = "calloc";
    return NULL;
  }
  m->memfd = -1;
  void *p = NULL;
  if (length > 0 && atomic_load(&use_memfd)) {
    const char *memfd_step = NULL;
    p = memfd_map(length, capacity, &m->memfd, &memfd_step);
    if (p) {
      m->file_backed = true;
      if (atomic_fetch_add(&memfds_held, 1) >= MEMFDS_HELD_MAX) pal_secmem_close_memfd(m);
      goto ready; /* a new mapping: zero already */
    }
    /* Out of descriptors, say: ordinary locked memory, served by READs instead of passthrough
     * (every handle of a version shares one buffer, so its inode stays one or the other). */
    m->memfd = -1;
  }
  p = pool_take(capacity / page);
  if (p) goto ready;
  int rc = posix_memalign(&p, page, capacity);
  if (rc != 0) {
    free(m);
    errno = rc;
    *failed_step = "posix_memalign";
    return NULL;
  }
  if (mlock(p, capacity) != 0) {
    int e = errno;
    free(p);
    free(m);
    errno = e;
    *failed_step = "mlock";
    return NULL;
  }
  if (madvise(p, capacity, MADV_DONTDUMP) != 0) {
    int e = errno;
    munlock(p, capacity);
    free(p);
    free(m);
    errno = e;
    *failed_step = "madvise(MADV_DONTDUMP)";
    return NULL;
  }
  memset(p, 0, capacity);
ready:
  m->data = p;
  m->length = length;
  m->capacity = capacity;
  m->locked = true;
  atomic_init(&m->refs, 1);
  atomic_init(&m->alive, true);
  atomic_fetch_add(&live_locked_bytes, capacity);
  atomic_fetch_add(&live_locked_buffers, 1);
  return m;
}

pal_secmem *pal_secmem_plain_copy(const void *bytes, size_t length) {
  pal_secmem *m = calloc(1, sizeof *m);
  unsigned char *p = malloc(length ? length : 1);
  if (!m || !p) {
    free(m);
    free(p);
    errno = ENOMEM;
    return NULL;
  }
  if (length) memcpy(p, bytes, length);
  m->data = p;
  m->length = length;
  m->capacity = length;
  m->locked = false;
  m->memfd = -1;
  atomic_init(&m->refs, 1);
  atomic_init(&m->alive, true);
  return m;
}

static void wipe_into(pal_secmem *m, unsigned char *probe) {
  if (!atomic_exchange(&m->alive, false)) return;
  unsigned char *p = m->data;
  m->data = NULL;
  if (!p) return;
  explicit_bzero(p, m->capacity);
  if (probe) memcpy(probe, p, m->length); /* test hook: what the memory holds after the wipe */
  if (!m->locked) {
    free(p);
    return;
  }
  atomic_fetch_sub(&live_locked_bytes, m->capacity);
  atomic_fetch_sub(&live_locked_buffers, 1);
  pal_pt_forget(m); /* the kernel's open files keep their own reference to the (now zero) pages */
  if (m->file_backed) {
    pal_secmem_close_memfd(m);
    munlock(p, m->capacity);
    munmap(p, m->capacity);
    return;
  }
  if (pool_give(p, m->capacity / page_size())) return;
  madvise(p, m->capacity, MADV_DODUMP);
  munlock(p, m->capacity);
  free(p);
}

void pal_secmem_ref(pal_secmem *m) { atomic_fetch_add(&m->refs, 1); }

/* Drops one reference; true if it was the last (the memory was wiped into `probe`, if given). */
static bool unref_into(pal_secmem *m, unsigned char *probe) {
  if (atomic_fetch_sub(&m->refs, 1) != 1) return false;
  wipe_into(m, probe);
  free(m);
  return true;
}

void pal_secmem_unref(pal_secmem *m) { unref_into(m, NULL); }

/* The handle lets go of its reference (idempotent). */
static void handle_drop(sb_handle *h) {
  pal_secmem *m = h->mem;
  h->mem = NULL;
  if (m) pal_secmem_unref(m);
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  sb_handle *h = data;
  handle_drop(h);
  free(h);
}

/* Wraps one reference to `mem` (which it takes over, even on failure) in a new JS handle. */
static napi_value wrap_new(napi_env env, pal_secmem *mem) {
  sb_handle *h = calloc(1, sizeof *h);
  napi_value obj;
  if (!h || napi_create_object(env, &obj) != napi_ok) {
    free(h);
    pal_secmem_unref(mem);
    pal_throw(env, "ERR_PAL_NOMEM", ENOMEM, "out of memory");
    return NULL;
  }
  h->mem = mem;
  h->length = mem->length;
  h->capacity = mem->capacity;
  if (napi_wrap(env, obj, h, finalize_handle, NULL, NULL) != napi_ok) {
    free(h);
    pal_secmem_unref(mem);
    pal_throw_last(env, "napi_wrap");
    return NULL;
  }
  return obj;
}

static napi_value alloc_or_throw(napi_env env, size_t length) {
  const char *step = "";
  pal_secmem *mem = pal_secmem_alloc(length, &step);
  if (!mem) {
    int e = errno;
    if (strcmp(step, "mlock") == 0)
      pal_throw(env, "ERR_PAL_MLOCK", e,
                "secure buffer: mlock of %zu bytes failed: %s; raise RLIMIT_MEMLOCK (ulimit -l, "
                "LimitMEMLOCK=) or grant CAP_IPC_LOCK",
                length, strerror(e));
    else
      pal_throw(env, "ERR_PAL_SECURE_ALLOC", e, "secure buffer: %s of %zu bytes failed: %s", step, length,
                strerror(e));
    return NULL;
  }
  return wrap_new(env, mem);
}

/* Gets the handle; unless `any`, it must still be owned by JS and alive. */
static sb_handle *unwrap(napi_env env, napi_value obj, bool any) {
  sb_handle *h = NULL;
  if (napi_unwrap(env, obj, (void **)&h) != napi_ok || !h) {
    pal_throw(env, "ERR_PAL_ARGS", 0, "not a SecureBuffer handle");
    return NULL;
  }
  if (any) return h;
  if (h->handed_over) {
    pal_throw(env, "ERR_PAL_SECURE_HANDED_OVER", 0,
              "secure buffer was handed to a FUSE file handle and belongs to it now");
    return NULL;
  }
  if (!h->mem) {
    pal_throw(env, "ERR_PAL_SECURE_WIPED", 0, "secure buffer was wiped");
    return NULL;
  }
  return h;
}

pal_secmem *pal_secure_buffer_take(napi_env env, napi_value handle) {
  sb_handle *h = unwrap(env, handle, false);
  if (!h) return NULL;
  pal_secmem *m = h->mem;
  h->mem = NULL;
  h->handed_over = true;
  return m;
}

/* sbAlloc(size) */
static napi_value sb_alloc(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  uint64_t size;
  if (!pal_get_args(env, info, 1, argv) || !pal_arg_u64(env, argv[0], "size", &size)) return NULL;
  if (size > (1u << 30)) {
    pal_throw(env, "ERR_PAL_ARGS", 0, "secure buffer size %" PRIu64 " exceeds 1 GiB", size);
    return NULL;
  }
  return alloc_or_throw(env, (size_t)size);
}

/* sbFrom(uint8array): copies the bytes in, then zeroes the source. */
static napi_value sb_from(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!pal_get_args(env, info, 1, argv)) return NULL;
  bool is_ta = false;
  napi_is_typedarray(env, argv[0], &is_ta);
  if (!is_ta) {
    pal_throw(env, "ERR_PAL_ARGS", 0, "bytes must be a Uint8Array");
    return NULL;
  }
  napi_typedarray_type type;
  size_t len;
  void *src;
  NAPI_TRY(env, napi_get_typedarray_info(env, argv[0], &type, &len, &src, NULL, NULL));
  if (type != napi_uint8_array) {
    pal_throw(env, "ERR_PAL_ARGS", 0, "bytes must be a Uint8Array");
    return NULL;
  }
  napi_value obj = alloc_or_throw(env, len);
  if (!obj) return NULL;
  sb_handle *h = unwrap(env, obj, false);
  if (len) {
    memcpy(h->mem->data, src, len);
    explicit_bzero(src, len);
  }
  return obj;
}

/* sbWrite(handle, src, offset) */
static napi_value sb_write(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  uint64_t off;
  if (!pal_get_args(env, info, 3, argv)) return NULL;
  sb_handle *h = unwrap(env, argv[0], false);
  if (!h || !pal_arg_u64(env, argv[2], "offset", &off)) return NULL;
  napi_typedarray_type type;
  size_t len = 0;
  void *src = NULL;
  bool is_ta = false;
  napi_is_typedarray(env, argv[1], &is_ta);
  if (!is_ta || napi_get_typedarray_info(env, argv[1], &type, &len, &src, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    pal_throw(env, "ERR_PAL_ARGS", 0, "src must be a Uint8Array");
    return NULL;
  }
  if (off > h->mem->length || len > h->mem->length - off) {
    pal_throw(env, "ERR_OUT_OF_RANGE", 0, "write of %zu bytes at %" PRIu64 " exceeds length %zu", len, off,
              h->mem->length);
    return NULL;
  }
  /* Shared memory is what open files read: it never changes under them. */
  if (atomic_load(&h->mem->refs) > 1) {
    pal_throw(env, "ERR_PAL_SECURE_SHARED", 0, "secure buffer is shared and can no longer be written");
    return NULL;
  }
  if (len) memcpy(h->mem->data + off, src, len);
  return NULL;
}

/* sbRead(handle, offset, length) -> Buffer copy */
static napi_value sb_read(napi_env env, napi_callback_info info) {
  napi_value argv[3], out;
  uint64_t off, len;
  if (!pal_get_args(env, info, 3, argv)) return NULL;
  sb_handle *h = unwrap(env, argv[0], false);
  if (!h || !pal_arg_u64(env, argv[1], "offset", &off) || !pal_arg_u64(env, argv[2], "length", &len))
    return NULL;
  if (off > h->mem->length || len > h->mem->length - off) {
    pal_throw(env, "ERR_OUT_OF_RANGE", 0, "read of %" PRIu64 " bytes at %" PRIu64 " exceeds length %zu", len,
              off, h->mem->length);
    return NULL;
  }
  NAPI_TRY(env, napi_create_buffer_copy(env, (size_t)len, h->mem->data + off, NULL, &out));
  return out;
}

/* sbClone(handle) -> new handle with a copy made in native memory */
static napi_value sb_clone(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!pal_get_args(env, info, 1, argv)) return NULL;
  sb_handle *h = unwrap(env, argv[0], false);
  if (!h) return NULL;
  napi_value obj = alloc_or_throw(env, h->mem->length);
  if (!obj) return NULL;
  sb_handle *c = unwrap(env, obj, false);
  if (h->mem->length) memcpy(c->mem->data, h->mem->data, h->mem->length);
  return obj;
}

/* sbShare(handle) -> another handle on the same memory (one more reference, no copy). */
static napi_value sb_share(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!pal_get_args(env, info, 1, argv)) return NULL;
  sb_handle *h = unwrap(env, argv[0], false);
  if (!h) return NULL;
  pal_secmem_ref(h->mem);
  return wrap_new(env, h->mem);
}

/* sbWipe(handle): this handle lets go of the memory; the last holder's letting go zeroes,
 * unlocks and frees it. Idempotent; a no-op once handed over to a file handle (that handle
 * holds the reference now, and drops it at release). */
static napi_value sb_wipe(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!pal_get_args(env, info, 1, argv)) return NULL;
  sb_handle *h = unwrap(env, argv[0], true);
  if (!h) return NULL;
  handle_drop(h);
  return NULL;
}

/* sbWipeProbe(handle) -> Buffer | null: lets go like sbWipe; if that was the last reference,
 * returns the bytes the memory held right after explicit_bzero (before it was freed), else null
 * (others still hold it). Test hook proving the wipe really zeroes. */
static napi_value sb_wipe_probe(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  if (!pal_get_args(env, info, 1, argv)) return NULL;
  sb_handle *h = unwrap(env, argv[0], false);
  if (!h) return NULL;
  void *probe_data;
  NAPI_TRY(env, napi_create_buffer(env, h->length, &probe_data, &out));
  memset(probe_data, 0xA5, h->length); /* so an unwritten probe cannot pass as zeroes */
  pal_secmem *m = h->mem;
  h->mem = NULL;
  if (unref_into(m, probe_data)) return out;
  NAPI_TRY(env, napi_get_null(env, &out));
  return out;
}

/* sbStats() -> { lockedBytes, lockedBuffers, pooledBytes }: locked memory in use (each shared
 * buffer once) and the pool's spare locked pages. */
static napi_value sb_stats(napi_env env, napi_callback_info info) {
  napi_value out, v;
  pthread_mutex_lock(&pool_lock);
  size_t pooled = pool_pages * page_size();
  pthread_mutex_unlock(&pool_lock);
  NAPI_TRY(env, napi_create_object(env, &out));
  NAPI_TRY(env, napi_create_double(env, (double)atomic_load(&live_locked_bytes), &v));
  NAPI_TRY(env, napi_set_named_property(env, out, "lockedBytes", v));
  NAPI_TRY(env, napi_create_double(env, (double)atomic_load(&live_locked_buffers), &v));
  NAPI_TRY(env, napi_set_named_property(env, out, "lockedBuffers", v));
  NAPI_TRY(env, napi_create_double(env, (double)pooled, &v));
  NAPI_TRY(env, napi_set_named_property(env, out, "pooledBytes", v));
  return out;
}

/* sbInfo(handle) -> { length, capacity, alive, handedOver, holders, address } (address: hex,
 * for smaps checks; holders: references to the memory, 0 once this handle let go). */
static napi_value sb_info(napi_env env, napi_callback_info info) {
  napi_value argv[1], out, v;
  if (!pal_get_args(env, info, 1, argv)) return NULL;
  sb_handle *h = unwrap(env, argv[0], true);
  if (!h) return NULL;
  pal_secmem *m = h->mem; /* while this handle holds it, the memory cannot go away */
  NAPI_TRY(env, napi_create_object(env, &out));
  NAPI_TRY(env, napi_create_double(env, (double)h->length, &v));
  NAPI_TRY(env, napi_set_named_property(env, out, "length", v));
  NAPI_TRY(env, napi_get_boolean(env, m != NULL, &v));
  NAPI_TRY(env, napi_set_named_property(env, out, "alive", v));
  NAPI_TRY(env, napi_get_boolean(env, h->handed_over, &v));
  NAPI_TRY(env, napi_set_named_property(env, out, "handedOver", v));
  NAPI_TRY(env, napi_create_double(env, m ? (double)atomic_load(&m->refs) : 0, &v));
  NAPI_TRY(env, napi_set_named_property(env, out, "holders", v));
  char addr[32];
  snprintf(addr, sizeof addr, "%" PRIxPTR, (uintptr_t)(m ? m->data : NULL));
  NAPI_TRY(env, napi_create_string_utf8(env, addr, NAPI_AUTO_LENGTH, &v));
  NAPI_TRY(env, napi_set_named_property(env, out, "address", v));
  NAPI_TRY(env, napi_create_double(env, (double)h->capacity, &v));
  NAPI_TRY(env, napi_set_named_property(env, out, "capacity", v));
  return out;
}

bool pal_secure_buffer_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"sbAlloc", NULL, sb_alloc, NULL, NULL, NULL, napi_default, NULL},
      {"sbFrom", NULL, sb_from, NULL, NULL, NULL, napi_default, NULL},
      {"sbWrite", NULL, sb_write, NULL, NULL, NULL, napi_default, NULL},
      {"sbRead", NULL, sb_read, NULL, NULL, NULL, napi_default, NULL},
      {"sbClone", NULL, sb_clone, NULL, NULL, NULL, napi_default, NULL},
      {"sbShare", NULL, sb_share, NULL, NULL, NULL, napi_default, NULL},
      {"sbStats", NULL, sb_stats, NULL, NULL, NULL, napi_default, NULL},
      {"sbWipe", NULL, sb_wipe, NULL, NULL, NULL, napi_default, NULL},
      {"sbWipeProbe", NULL, sb_wipe_probe, NULL, NULL, NULL, napi_default, NULL},
      {"sbInfo", NULL, sb_info, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}
