/* Small helpers shared by the addon's C files: argument fetching and error throwing. */
#ifndef PAL_NAPI_UTIL_H
#define PAL_NAPI_UTIL_H

#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>

/* Evaluate a napi call; on failure throw (if nothing is pending yet) and return NULL. */
#define NAPI_TRY(env, call)       \
  do {                            \
    if ((call) != napi_ok) {      \
      pal_throw_last(env, #call); \
      return NULL;                \
    }                             \
  } while (0)

void pal_throw_last(napi_env env, const char *what);
/* Throws Error(message) with err.code = code and err.errno = errnum (when errnum != 0). */
void pal_throw(napi_env env, const char *code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

bool pal_arg_u64(napi_env env, napi_value v, const char *name, uint64_t *out);
bool pal_arg_i64(napi_env env, napi_value v, const char *name, int64_t *out);
bool pal_arg_double(napi_env env, napi_value v, const char *name, double *out);
bool pal_arg_bool(napi_env env, napi_value v, bool *out);
/* Returns a malloc'd NUL-terminated copy of a JS string (caller frees), NULL after throwing. */
char *pal_arg_string(napi_env env, napi_value v, const char *name, size_t *len_out);
bool pal_get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv);

#endif
