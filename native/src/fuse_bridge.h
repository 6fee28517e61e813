/* The FUSE session: libfuse3 low-level API on its own threads, requests delivered to JS with the
 * caller's {pid, uid, gid}, replies from JS at any later time. */
#ifndef PAL_FUSE_BRIDGE_H
#define PAL_FUSE_BRIDGE_H
#include <node_api.h>
#include <stdbool.h>
bool pal_fuse_init(napi_env env, napi_value exports);
#endif
