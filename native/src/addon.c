/* pal_native: module entry point and the small argument helpers shared by the other files. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_bridge.h"
#include "handover.h"
#include "napi_util.h"
#include "pidfd.h"
#include "secure_buffer.h"
#include "sys.h"

void pal_throw_last(napi_env env, const char *what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  char msg[256];
  snprintf(msg, sizeof msg, "pal_native: %s failed: %s", what,
           info && info->error_message ? info->error_message : "unknown N-API error");
  napi_throw_error(env, "ERR_PAL_NATIVE", msg);
}

void pal_throw(napi_env env, const char *code, int errnum, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  napi_value jmsg, jcode, err;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &jmsg) != napi_ok ||
      napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &jcode) != napi_ok ||
      napi_create_error(env, jcode, jmsg, &err) != napi_ok) {
    napi_throw_error(env, code, msg);
    return;
  }
  if (errnum != 0) {
    napi_value jerrno;
    if (napi_create_int32(env, errnum, &jerrno) == napi_ok)
      napi_set_named_property(env, err, "errno", jerrno);
  }
  napi_throw(env, err);
}

bool pal_get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    pal_throw_last(env, "napi_get_cb_info");
    return false;
  }
  if (argc < want) {
    pal_throw(env, "ERR_PAL_ARGS", 0, "expected %zu arguments, got %zu", want, argc);
    return false;
  }
  return true;
}

bool pal_arg_double(napi_env env, napi_value v, const char *name, double *out) {
  if (napi_get_value_double(env, v, out) != napi_ok || isnan(*out)) {
    pal_throw(env, "ERR_PAL_ARGS", 0, "%s must be a number", name);
    return false;
  }
  return true;
}

bool pal_arg_u64(napi_env env, napi_value v, const char *name, uint64_t *out) {
  double d;
  if (!pal_arg_double(env, v, name, &d)) return false;
  if (d < 0 || d > 9007199254740991.0 || d != floor(d)) {
    pal_throw(env, "ERR_PAL_ARGS", 0, "%s must be a non-negative safe integer", name);
    return false;
  }
  *out = (uint64_t)d;
  return true;
}

bool pal_arg_i64(napi_env env, napi_value v, const char *name, int64_t *out) {
  double d;
  if (!pal_arg_double(env, v, name, &d)) return false;
  if (d < -9007199254740991.0 || d > 9007199254740991.0 || d != floor(d)) {
    pal_throw(env, "ERR_PAL_ARGS", 0, "%s must be a safe integer", name);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

bool pal_arg_bool(napi_env env, napi_value v, bool *out) {
  napi_value b;
  if (napi_coerce_to_bool(env, v, &b) != napi_ok || napi_get_value_bool(env, b, out) != napi_ok) {
    pal_throw_last(env, "coerce to bool");
    return false;
  }
  return true;
}

char *pal_arg_string(napi_env env, napi_value v, const char *name, size_t *len_out) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    pal_throw(env, "ERR_PAL_ARGS", 0, "%s must be a string", name);
    return NULL;
  }
  char *s = malloc(len + 1);
  if (!s) {
    pal_throw(env, "ERR_PAL_NOMEM", ENOMEM, "out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (strlen(s) != len) { /* embedded NUL: never valid in a path or a name */
    free(s);
    pal_throw(env, "ERR_PAL_ARGS", 0, "%s must not contain NUL", name);
    return NULL;
  }
  if (len_out) *len_out = len;
  return s;
}

static napi_value init(napi_env env, napi_value exports) {
  if (!pal_secure_buffer_init(env, exports) || !pal_fuse_init(env, exports) || !pal_sys_init(env, exports) ||
      !pal_handover_init(env, exports) || !pal_pidfd_init(env, exports)) {
    pal_throw_last(env, "napi_define_properties");
    return NULL;
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
