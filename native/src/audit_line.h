/* The audit line of an open the addon answered from a lease (SPEC §5), written in C so that pald's
 * JS thread neither formats it nor encodes it: JS hands the lease the constant part of the line
 * (its AuditLineFormatter's own text, from the uid to the reason), and the addon adds what changes
 * per open: the time, the opener's pid and the latency. */
#ifndef PAL_AUDIT_LINE_H
#define PAL_AUDIT_LINE_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The longest constant part a lease keeps (longer: JS writes that lease's lines itself). */
#define PAL_AUDIT_TAIL_MAX 4096
/* What a line adds to its constant part: {"time":"…","pid":…  and  ,"latency_us":…}\n */
#define PAL_AUDIT_LINE_EXTRA 96

/* Writes `{"time":"<ISO-8601 UTC, ms>","pid":<pid><tail>,"latency_us":<latency>}\n` into out (cap
 * bytes, no NUL): byte for byte the line JS writes (src/audit/line.ts), the time as
 * Date#toISOString gives it. Returns its length, or 0 when it cannot be written the same way (a
 * time outside years 1970..9999, a negative latency, no room): JS then writes the line itself. */
size_t pal_audit_line(char *out, size_t cap, double time_ms, pid_t pid, const char *tail, size_t tail_len,
                      int64_t latency_us);
#endif
