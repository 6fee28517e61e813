/* JS bindings for handing the FUSE descriptor over: the holder client and sd_notify with a
 * descriptor (systemd's file-descriptor store). */
#ifndef PAL_HANDOVER_H
#define PAL_HANDOVER_H
#include <node_api.h>
#include <stdbool.h>
bool pal_handover_init(napi_env env, napi_value exports);
#endif
