/* Process-level helpers: SO_PEERCRED and PR_SET_DUMPABLE. */
#ifndef PAL_SYS_H
#define PAL_SYS_H
#include <node_api.h>
#include <stdbool.h>
bool pal_sys_init(napi_env env, napi_value exports);
#endif
